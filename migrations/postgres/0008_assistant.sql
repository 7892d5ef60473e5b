-- The assistant's answers carry their provenance (sources, provider,
-- outcome) as JSON; NULL for every other message.
ALTER TABLE conversation_messages ADD COLUMN provenance TEXT;
