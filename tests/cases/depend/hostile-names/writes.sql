INSERT INTO public."select" ("Weird ""col""", "from") VALUES ('w' || :k, 2);
UPDATE public."select" SET "Weird ""col""" = 'u' || :k WHERE id = 1 + :k % 300;
