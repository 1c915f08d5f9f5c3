-- Preprod renamed prod's "notes" table; it keeps its FK to users (notes_author_id_fkey) and its identity sequence.
ALTER TABLE notes RENAME TO user_notes;
