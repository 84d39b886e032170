//! Conversation model adapters behind [`application::ConversationModel`].
