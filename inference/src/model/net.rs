//! The network: one hidden ReLU layer and a single logit. Knows nothing about features.

use candle_core::{Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder, linear};

/// A two-layer perceptron producing one fraud logit per row.
#[derive(Debug)]
pub struct FraudNet {
    hidden: Linear,
    output: Linear,
}

impl FraudNet {
    pub fn new(vb: &VarBuilder<'_>, inputs: usize, hidden_units: usize) -> Result<Self> {
        Ok(Self {
            hidden: linear(inputs, hidden_units, vb.pp("hidden"))?,
            output: linear(hidden_units, 1, vb.pp("output"))?,
        })
    }

    /// Logits of shape `(rows,)` for normalised inputs of shape `(rows, inputs)`.
    pub fn logits(&self, inputs: &Tensor) -> Result<Tensor> {
        self.output
            .forward(&self.hidden.forward(inputs)?.relu()?)?
            .squeeze(1)
    }
}
