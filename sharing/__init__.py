"""Read-only links to a snapshot of a conversation, and copies of it in the reader's own chats."""
