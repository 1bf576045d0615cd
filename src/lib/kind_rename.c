/*
 * Kind of change: a rename. The new column has the old one's type; up and
 * down copy the value. Nothing of its own to check or verify: the common
 * preconditions (the expressions compile and succeed on every row) and the
 * dependent objects' cover it.
 */
#include "ecplan/kind.h"

#include "ecplan/sql.h"

static bool matches(const ecplan_plan *change, const ecplan_catalog *cat)
{
	(void)cat;
	return !ecplan_change_retypes(change);
}

static const char *new_type(const ecplan_plan *change, const ecplan_catalog *cat)
{
	(void)change;
	return cat && cat->column_exists ? cat->column.type : NULL;
}

static void up(ecplan_strbuf *sb, const ecplan_plan *change, const char *from)
{
	ecplan_strbuf_adds(sb, from);
	ecplan_sql_ident(sb, change->column);
}

static void down(ecplan_strbuf *sb, const ecplan_plan *change, const ecplan_catalog *cat, const char *from)
{
	(void)cat;
	ecplan_strbuf_adds(sb, from);
	ecplan_sql_ident(sb, change->new_column);
}

const ecplan_change_kind ecplan_kind_rename = {
	.name = "rename",
	.summary = "the new column takes the old one's type; up and down copy the value. Nothing beyond the "
		   "common phases",
	.matches = matches,
	.new_type = new_type,
	.up = up,
	.down = down,
};
