CREATE VIEW public.things_late_kinds AS SELECT DISTINCT kind FROM public.things;
