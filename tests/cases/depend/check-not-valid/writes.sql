INSERT INTO public.prices (cents) VALUES (:k);
UPDATE public.prices SET cents = 100 + :k WHERE id = 100 + :k % 200;
