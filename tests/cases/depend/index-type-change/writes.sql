INSERT INTO public.pages (site, slug) VALUES (:k % 3, 'a-written-' || :k);
UPDATE public.pages SET slug = 'a-changed-' || :k WHERE id = 1 + :k % 300;
