INSERT INTO "My Schema"."Odd ""Things""" (id) VALUES (500000);
