INSERT INTO "My Schema"."Odd ""Things""" (id) VALUES (1000 + :k);
UPDATE "My Schema"."Odd ""Things""" SET id = id WHERE id = 1 + :k % 120;
