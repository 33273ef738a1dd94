//! Model catalogue and routing of model ids to backends, with fallbacks.
