INSERT INTO public.players (group_id) VALUES (1 + :k % 10);
UPDATE public.players SET group_id = 1 + (:k * 7) % 10 WHERE id = 1 + :k % 300;
