-- The hand-written trigger of the seed article's rename example, verbatim
-- apart from the table name.
CREATE OR REPLACE FUNCTION sync_name_columns() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.name IS DISTINCT FROM OLD.name THEN
    NEW.full_name := NEW.name;
  END IF;
  IF TG_OP = 'INSERT' OR NEW.full_name IS DISTINCT FROM OLD.full_name THEN
    NEW.name := NEW.full_name;
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER sync_name_columns BEFORE INSERT OR UPDATE ON public.bench_users
  FOR EACH ROW EXECUTE FUNCTION sync_name_columns();
