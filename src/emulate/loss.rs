//! Which packets the link loses: none, each one independently (Bernoulli), or in bursts (the
//! Gilbert-Elliott model, with netem's `loss gemodel p r 1-h 1-k` parameters and its order of
//! draws). Pure: the caller owns the generator, so a seed repeats a run.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::parse::parse_percent;

/// How the link loses packets in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, schemars::JsonSchema)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum LossModel {
    /// Every packet arrives.
    #[default]
    None,
    /// Each packet is lost with this probability, independently of the others.
    Uniform {
        /// 0.0 ..= 1.0.
        probability: f64,
    },
    /// Two states, Good and Bad, each with its own loss probability; the chain moves between
    /// them once per packet. Losses come in bursts of mean length 1/r when Bad loses every
    /// packet and Good none (netem's simple Gilbert model).
    GilbertElliott {
        /// p: probability of moving Good → Bad at a packet.
        p: f64,
        /// r: probability of moving Bad → Good at a packet.
        r: f64,
        /// 1−h: probability of a loss in the Bad state.
        bad_loss: f64,
        /// 1−k: probability of a loss in the Good state.
        good_loss: f64,
    },
}

impl LossModel {
    /// The share of packets lost in the long run: the Bad state's share of packets is
    /// p / (p + r).
    pub fn mean_loss(&self) -> f64 {
        match *self {
            LossModel::None => 0.0,
            LossModel::Uniform { probability } => probability,
            LossModel::GilbertElliott {
                p,
                r,
                bad_loss,
                good_loss,
            } => {
                if p + r == 0.0 {
                    return good_loss;
                }
                let bad = p / (p + r);
                bad * bad_loss + (1.0 - bad) * good_loss
            }
        }
    }

    /// Checks every probability lies in 0 ..= 1.
    pub fn validate(&self) -> Result<(), String> {
        let named: Vec<(&str, f64)> = match *self {
            LossModel::None => Vec::new(),
            LossModel::Uniform { probability } => vec![("loss", probability)],
            LossModel::GilbertElliott {
                p,
                r,
                bad_loss,
                good_loss,
            } => vec![("p", p), ("r", r), ("1-h", bad_loss), ("1-k", good_loss)],
        };
        for (name, value) in named {
            if !(0.0..=1.0).contains(&value) {
                return Err(format!(
                    "{name} {value} is not a probability between 0 and 1"
                ));
            }
        }
        Ok(())
    }

    /// How the model reads on the command line: `1%`, `gemodel:1%,30%,100%,0%`.
    pub fn as_option(&self) -> String {
        let percent = |x: f64| {
            let text = format!("{:.4}", x * 100.0);
            format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
        };
        match *self {
            LossModel::None => "0".into(),
            LossModel::Uniform { probability } => percent(probability),
            LossModel::GilbertElliott {
                p,
                r,
                bad_loss,
                good_loss,
            } => format!(
                "gemodel:{},{},{},{}",
                percent(p),
                percent(r),
                percent(bad_loss),
                percent(good_loss)
            ),
        }
    }
}

/// Parses a loss setting: a percentage (`1%`, uniform), or `gemodel:p[,r[,1-h[,1-k]]]` with each
/// a percentage, defaulting as netem does: r = 100% − p, 1−h = 100%, 1−k = 0%.
pub fn parse_loss(text: &str) -> Result<LossModel, String> {
    let text = text.trim();
    let Some(params) = text.strip_prefix("gemodel:") else {
        if text.starts_with("gemodel") {
            return Err(format!(
                "{text:?}: write the Gilbert-Elliott parameters after a colon, e.g. \
                 gemodel:1%,30% (p, r[, 1-h[, 1-k]])"
            ));
        }
        return Ok(match parse_percent(text)? {
            0.0 => LossModel::None,
            probability => LossModel::Uniform { probability },
        });
    };
    let values = params
        .split(',')
        .map(parse_percent)
        .collect::<Result<Vec<f64>, String>>()
        .map_err(|e| format!("gemodel: {e}"))?;
    let model = match values[..] {
        [p] => LossModel::GilbertElliott {
            p,
            r: 1.0 - p,
            bad_loss: 1.0,
            good_loss: 0.0,
        },
        [p, r] => LossModel::GilbertElliott {
            p,
            r,
            bad_loss: 1.0,
            good_loss: 0.0,
        },
        [p, r, bad_loss] => LossModel::GilbertElliott {
            p,
            r,
            bad_loss,
            good_loss: 0.0,
        },
        [p, r, bad_loss, good_loss] => LossModel::GilbertElliott {
            p,
            r,
            bad_loss,
            good_loss,
        },
        _ => {
            return Err(format!(
                "{text:?}: gemodel takes 1 to 4 percentages (p, r, 1-h, 1-k), e.g. gemodel:1%,30%"
            ));
        }
    };
    Ok(model)
}

/// The state of one direction's losses.
#[derive(Debug, Clone)]
pub struct Losses {
    model: LossModel,
    bad: bool,
    /// Whether the previous packet was lost, to count bursts.
    in_burst: bool,
    lost: u64,
    bursts: u64,
}

impl Losses {
    /// Starts in the Good state.
    pub fn new(model: LossModel) -> Losses {
        Losses {
            model,
            bad: false,
            in_burst: false,
            lost: 0,
            bursts: 0,
        }
    }

    /// Draws the fate of the next packet: true when it is lost.
    pub fn lose(&mut self, rng: &mut ChaCha8Rng) -> bool {
        let lost = match self.model {
            LossModel::None => false,
            LossModel::Uniform { probability } => rng.random_bool(probability),
            // netem's loss_gilb_ell: the state the packet meets decides its loss, and the move
            // to the other state is drawn first.
            LossModel::GilbertElliott {
                p,
                r,
                bad_loss,
                good_loss,
            } => {
                if self.bad {
                    if rng.random_bool(r) {
                        self.bad = false;
                    }
                    rng.random_bool(bad_loss)
                } else {
                    if rng.random_bool(p) {
                        self.bad = true;
                    }
                    rng.random_bool(good_loss)
                }
            }
        };
        if lost {
            self.lost += 1;
            if !self.in_burst {
                self.bursts += 1;
            }
        }
        self.in_burst = lost;
        lost
    }

    /// Packets lost so far.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Runs of consecutive lost packets so far.
    pub fn bursts(&self) -> u64 {
        self.bursts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_percentage_is_uniform_loss_and_gemodel_takes_netems_defaults() {
        assert_eq!(parse_loss("0"), Ok(LossModel::None));
        assert_eq!(
            parse_loss("1%"),
            Ok(LossModel::Uniform { probability: 0.01 })
        );
        assert_eq!(
            parse_loss("gemodel:1%"),
            Ok(LossModel::GilbertElliott {
                p: 0.01,
                r: 0.99,
                bad_loss: 1.0,
                good_loss: 0.0
            })
        );
        assert_eq!(
            parse_loss("gemodel:1%,25%,50%,0.5%"),
            Ok(LossModel::GilbertElliott {
                p: 0.01,
                r: 0.25,
                bad_loss: 0.5,
                good_loss: 0.005
            })
        );
        for bad in [
            "gemodel",
            "gemodel 1% 2%",
            "gemodel:",
            "gemodel:1%,2%,3%,4%,5%",
            "gemodel:1,2",
            "gemodel:120%",
            "1",
        ] {
            assert!(parse_loss(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_option_text_reads_back_as_the_same_model() {
        for text in [
            "1%",
            "0.5%",
            "gemodel:1%,30%,100%,0%",
            "gemodel:0.1%,20%,70%,0.01%",
        ] {
            let model = parse_loss(text).unwrap();
            assert_eq!(model.as_option(), text);
            assert_eq!(parse_loss(&model.as_option()), Ok(model));
        }
    }

    #[test]
    fn the_long_run_loss_of_the_simple_gilbert_model_is_p_over_p_plus_r() {
        let model = parse_loss("gemodel:1%,24%").unwrap();
        assert!((model.mean_loss() - 0.01 / 0.25).abs() < 1e-12);
    }

    /// Losses and bursts of 200 000 draws of the simple Gilbert model with p = 1 %, r = 25 %:
    /// the Bad state's share is 0.04 and a burst lasts 1/r = 4 packets on average. The standard
    /// error of the loss share, with bursts of 4 making draws correlated, is under 0.001 here; the
    /// bounds are five times that.
    #[test]
    fn seeded_gilbert_losses_match_the_configured_rate_and_burst_length() {
        let mut losses = Losses::new(parse_loss("gemodel:1%,25%").unwrap());
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let n = 200_000;
        for _ in 0..n {
            losses.lose(&mut rng);
        }
        let rate = losses.lost() as f64 / n as f64;
        let burst = losses.lost() as f64 / losses.bursts() as f64;
        assert!((rate - 0.04).abs() < 0.005, "loss rate {rate}");
        assert!((burst - 4.0).abs() < 0.3, "mean burst {burst}");
    }

    #[test]
    fn uniform_losses_come_alone_mostly() {
        let mut losses = Losses::new(LossModel::Uniform { probability: 0.04 });
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..200_000 {
            losses.lose(&mut rng);
        }
        let burst = losses.lost() as f64 / losses.bursts() as f64;
        // Geometric runs: mean 1 / (1 − 0.04).
        assert!((burst - 1.0 / 0.96).abs() < 0.02, "mean burst {burst}");
    }
}
