//! The cloud layer: execution contexts for Worker request handlers.
