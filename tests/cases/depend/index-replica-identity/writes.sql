INSERT INTO public.devices (serial) VALUES ('W-' || :k);
UPDATE public.devices SET serial = 'U-' || :k WHERE id = 1 + :k % 300;
