-- The application's own update of its function, between switch and contract.
CREATE OR REPLACE FUNCTION public.thing_events_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE public.things SET category = NEW.new_kind WHERE id = NEW.thing_id;
  RETURN NEW;
END $$;
