DROP VIEW public.things_late_kinds;
