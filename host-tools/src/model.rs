//! A model on the host: its graph and the weights it owns.

use kiln::{Graph, Heap};

/// The graph of a model read on the host: heap storage, so any number of layers, nodes,
/// inputs and outputs, and names of any length.
pub type HostModel<'w> = Graph<'w, Heap>;

/// A graph plus the flat weight buffer it borrows from (Keras's `get_weights()`
/// concatenated). The graph is stored without weights so the two can live side by side.
#[derive(Clone, Debug)]
pub struct HostGraph {
    graph: HostModel<'static>,
    weights: Vec<f32>,
}

impl HostGraph {
    pub fn new(graph: HostModel<'static>, weights: Vec<f32>) -> Self {
        HostGraph { graph, weights }
    }

    /// The graph without weights: enough for `summary`, `get_layer` and planning.
    pub fn structure(&self) -> &HostModel<'static> {
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
    pub fn graph(&self) -> Result<HostModel<'_>, kiln::Error> {
        let mut graph: HostModel<'_> = self.graph.clone();
        graph.set_weights(&self.weights)?;
        Ok(graph)
    }
}
