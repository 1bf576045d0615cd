INSERT INTO public.ledger (amount) VALUES (0.5);
