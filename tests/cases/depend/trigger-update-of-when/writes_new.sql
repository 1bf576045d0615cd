-- One row per statement: the log's order must not depend on the rows' physical order.
UPDATE public.tickets SET state = 'closed' WHERE id = 1;
UPDATE public.tickets SET state = 'closed' WHERE id = 2;
UPDATE public.tickets SET state = 'reopened' WHERE id = 3;
UPDATE public.tickets SET state = state WHERE id = 6;
UPDATE public.tickets SET state = state WHERE id = 7;
