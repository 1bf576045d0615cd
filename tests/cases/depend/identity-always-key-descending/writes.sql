INSERT INTO public.ledger (amount) VALUES (:k);
UPDATE public.ledger SET amount = amount + 1 WHERE id = -1 - :k % 200;
