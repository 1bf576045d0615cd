-- Old code never inserts the old column's default (1) explicitly here: with a new
-- default (2) on the new column, an INSERT that gives quantity = 1 and omits
-- quantity_big after switch is indistinguishable, in a BEFORE trigger, from new
-- code omitting quantity (default 1) and giving quantity_big = 2; the new column
-- wins that conflict after switch (README: "Known limits", defaults).
INSERT INTO public.lines (quantity) VALUES (3 + :k % 5);
UPDATE public.lines SET quantity = quantity + 1 WHERE id = 1 + :k % 300;
