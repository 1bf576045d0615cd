UPDATE public.tickets SET state = 'closed' WHERE id <= 5;
UPDATE public.tickets SET state = state WHERE id BETWEEN 6 AND 8;
