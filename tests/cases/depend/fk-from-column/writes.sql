INSERT INTO public.players (team_id) VALUES (1 + :k % 10);
UPDATE public.players SET team_id = 1 + (:k * 7) % 10 WHERE id = 1 + :k % 300;
