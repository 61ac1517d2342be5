//! The ways to build a model. Each one produces the same [`Graph`](crate::graph::Graph).

mod functional;
mod get_layer;
mod sequential;
mod subclassed;

pub use functional::{Functional, Tensor};
pub use get_layer::{GetLayerError, LayerNames};
pub use sequential::Sequential;
pub use subclassed::{Call, Subclassed};

#[cfg(test)]
mod tests;
