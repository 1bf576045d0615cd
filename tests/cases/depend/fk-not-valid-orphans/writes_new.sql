DELETE FROM public.legacy_groups WHERE id = 4;
