//! gRPC driver plugin.
