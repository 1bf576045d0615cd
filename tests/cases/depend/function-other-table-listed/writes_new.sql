-- After contract, the other table's trigger still works: it writes the new column.
INSERT INTO public.thing_events (thing_id, new_kind) VALUES (7, 'after-contract');
