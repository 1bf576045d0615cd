-- The foreign keys still act on the new column: the delete sets NULL, the other cascades.
DELETE FROM public.teams WHERE id = 3;
DELETE FROM public.legacy_groups WHERE id = 5;
