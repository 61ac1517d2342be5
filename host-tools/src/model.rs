//! A model on the host: its graph and the weights it owns.

use kiln::Graph;

/// Layers a host-side model may have. Firmware picks its own, smaller capacity.
pub const MAX_LAYERS: usize = 256;

/// A graph plus the flat weight buffer it borrows from (Keras's `get_weights()`
/// concatenated). The graph is stored without weights so the two can live side by side.
#[derive(Clone, Debug)]
pub struct HostGraph {
    graph: Box<Graph<'static, MAX_LAYERS>>,
    weights: Vec<f32>,
}

impl HostGraph {
    pub fn new(graph: Box<Graph<'static, MAX_LAYERS>>, weights: Vec<f32>) -> Self {
        HostGraph { graph, weights }
    }

    /// The graph without weights: enough for `summary`, `get_layer` and planning.
    pub fn structure(&self) -> &Graph<'static, MAX_LAYERS> {
        &self.graph
    }

    /// True when the model came with its weights (a `.keras`, not a bare config).
    pub fn has_weights(&self) -> bool {
        self.weights.len() == self.graph.weight_len()
            && (self.graph.weight_len() == 0 || !self.weights.is_empty())
    }

    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// The graph with its weights lent, ready for `predict`; an error for a bare config.
    pub fn graph(&self) -> Result<Box<Graph<'_, MAX_LAYERS>>, kiln::Error> {
        let mut graph: Box<Graph<'_, MAX_LAYERS>> = self.graph.clone();
        graph.set_weights(&self.weights)?;
        Ok(graph)
    }
}
