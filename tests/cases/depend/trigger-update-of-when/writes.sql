UPDATE public.tickets SET status = CASE WHEN :k % 2 = 0 THEN 'open' ELSE 'pending' END WHERE id = 1 + :k % 300;
