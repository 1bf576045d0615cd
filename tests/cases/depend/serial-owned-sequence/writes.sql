INSERT INTO public.invoices (id, number) VALUES (1000 + :k, 5000 + :k);
UPDATE public.invoices SET number = 9000 + :k WHERE id = 1 + :k % 300;
