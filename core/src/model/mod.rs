//! The ways to build a model. Each one produces the same [`Graph`](crate::graph::Graph).

mod get_layer;
mod sequential;

pub use get_layer::{GetLayerError, LayerNames};
pub use sequential::Sequential;
