INSERT INTO public.things (kind, code) VALUES ('w' || :k, 1000 + :k);
INSERT INTO public.thing_events (thing_id, new_kind) VALUES (1 + :k % 100, 'e' || :k);
