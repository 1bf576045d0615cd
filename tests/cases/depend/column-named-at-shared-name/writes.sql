INSERT INTO public.visits (at) VALUES ('2026-06-01'::timestamptz + :k * interval '1 minute');
UPDATE public.visits SET at = at + interval '1 second' WHERE id = 1 + :k % 300;
UPDATE public.logins SET at = at + interval '1 second' WHERE id = 1 + :k % 50;
