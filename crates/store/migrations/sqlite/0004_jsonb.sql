-- Custom fields are kept as SQLite's binary JSON: rules and filters read them without parsing
-- JSON text for every row. Reads turn them back into text with json().
UPDATE records SET data = jsonb(data);
