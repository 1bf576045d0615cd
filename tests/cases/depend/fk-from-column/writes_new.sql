-- The foreign keys still act on the new column: the update cascades, the delete sets NULL.
UPDATE public.teams SET id = 1000 WHERE id = 2;
DELETE FROM public.teams WHERE id = 3;
