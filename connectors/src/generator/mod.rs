//! The deterministic sensor-reading generator.
//!
//! Reading `i` is a pure function of `(seed, i)` — a counter-based generator (SplitMix64
//! over the index) rather than a stateful RNG — so the stream can be split across any number
//! of workers (worker `w` of `n` produces the indices `i ≡ w mod n`) and still be exactly the
//! sequence [`SensorGenerator::readings`] yields in one thread. Tests and benchmarks rely on
//! that to recompute results in batch.

mod config;
mod reader;

pub use config::SensorGeneratorConfig;

use serde::{Deserialize, Serialize};
use tributary_engine::EngineError;
use tributary_engine::source::{Source, SourceCheckpoint, SourceReader, WorkerInfo};

use reader::GeneratorReader;

/// One reading of the `readings` stream:
/// `readings(sensor_id BIGINT, ts TIMESTAMP(ms), value DOUBLE)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SensorReading {
    /// The sensor that produced the reading.
    pub sensor_id: i64,
    /// Event time, epoch milliseconds (JSON input may also give an RFC 3339 timestamp).
    #[serde(deserialize_with = "tributary_engine::record::event_time_ms")]
    pub ts: i64,
    /// The measured value.
    pub value: f64,
}

/// A source of synthetic sensor readings (see the module docs).
#[derive(Debug, Clone)]
pub struct SensorGenerator {
    config: SensorGeneratorConfig,
}

impl SensorGenerator {
    /// Validates the configuration and builds the generator.
    pub fn try_new(config: SensorGeneratorConfig) -> Result<Self, EngineError> {
        config.validate()?;
        Ok(Self { config })
    }

    /// The configuration.
    pub fn config(&self) -> &SensorGeneratorConfig {
        &self.config
    }

    /// Reading number `i`.
    pub fn reading(&self, i: u64) -> SensorReading {
        let c = &self.config;
        let sensor = i % c.sensors;
        let noise_bits = splitmix64(c.seed ^ splitmix64(i));
        let jitter_bits = splitmix64(noise_bits);
        let spike_bits = splitmix64(jitter_bits);
        // Sum of three uniforms: a cheap bell curve with standard deviation 0.5.
        let noise = (unit(noise_bits) + unit(noise_bits >> 21) + unit(noise_bits >> 42) - 1.5) * 2.0;
        let baseline = 20.0 + (sensor % 10) as f64 * 1.5;
        let spike = if unit(spike_bits) < c.spike_probability {
            if spike_bits & 1 == 0 {
                c.spike_magnitude
            } else {
                -c.spike_magnitude
            }
        } else {
            0.0
        };
        let disorder = (jitter_bits % (c.max_disorder_ms as u64 + 1)) as i64;
        let nominal = c.start_ts + (i as f64 * c.event_spacing_ms()) as i64;
        SensorReading {
            sensor_id: sensor as i64,
            ts: nominal - disorder,
            value: baseline + noise + spike,
        }
    }

    /// The first `n` readings in index order: what all workers together produce.
    pub fn readings(&self, n: u64) -> impl Iterator<Item = SensorReading> + '_ {
        (0..n).map(move |i| self.reading(i))
    }
}

impl Source<SensorReading> for SensorGenerator {
    fn describe(&self) -> String {
        let c = &self.config;
        format!(
            "generator(sensors={}, rate={}, seed={}, limit={})",
            c.sensors,
            if c.rate == 0 {
                "max".to_string()
            } else {
                format!("{}/s", c.rate)
            },
            c.seed,
            c.limit.map_or("none".to_string(), |l| l.to_string())
        )
    }

    fn open(&self, worker: WorkerInfo) -> Result<Box<dyn SourceReader<SensorReading>>, EngineError> {
        Ok(Box::new(GeneratorReader::new(self.clone(), worker)))
    }

    /// Continues at the next index history recorded for this worker (with the worker count
    /// of the run that wrote it), paced from there.
    fn open_resuming(
        &self,
        worker: WorkerInfo,
        resume: Option<&SourceCheckpoint>,
    ) -> Result<Box<dyn SourceReader<SensorReading>>, EngineError> {
        let reader = GeneratorReader::new(self.clone(), worker);
        Ok(Box::new(match resume {
            Some(SourceCheckpoint::Sequence { next }) => reader.resuming_at(*next),
            Some(other) => {
                return Err(EngineError::Source {
                    source_name: self.describe(),
                    reason: format!("cannot resume from a non-generator position {other:?}"),
                });
            }
            None => reader,
        }))
    }
}

/// SplitMix64's finaliser: a bijective 64-bit mix with good avalanche.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Low 21 bits as a uniform in [0, 1).
fn unit(bits: u64) -> f64 {
    (bits & ((1 << 21) - 1)) as f64 / (1u64 << 21) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generator() -> SensorGenerator {
        SensorGenerator::try_new(SensorGeneratorConfig {
            sensors: 10,
            spike_probability: 0.05,
            ..SensorGeneratorConfig::default()
        })
        .expect("valid")
    }

    #[test]
    fn is_deterministic_and_seed_dependent() {
        let a: Vec<_> = generator().readings(1000).collect();
        let b: Vec<_> = generator().readings(1000).collect();
        assert_eq!(a, b);
        let other = SensorGenerator::try_new(SensorGeneratorConfig {
            seed: 7,
            sensors: 10,
            ..SensorGeneratorConfig::default()
        })
        .expect("valid");
        assert_ne!(a[0].value, other.reading(0).value);
    }

    #[test]
    fn readings_look_like_sensors() {
        let g = generator();
        let readings: Vec<_> = g.readings(10_000).collect();
        assert!(readings.iter().all(|r| (0..10).contains(&r.sensor_id)));
        let spikes = readings.iter().filter(|r| (r.value - 20.0).abs() > 20.0).count();
        assert!((300..700).contains(&spikes), "about 5% spikes, got {spikes}");
        let out_of_order = readings.windows(2).filter(|w| w[1].ts < w[0].ts).count();
        assert!(out_of_order > 0, "event time must arrive out of order sometimes");
        let max_disorder = g.config().max_disorder_ms;
        assert!(readings.iter().enumerate().all(|(i, r)| {
            let nominal = g.config().start_ts + (i as f64 * g.config().event_spacing_ms()) as i64;
            r.ts <= nominal && r.ts >= nominal - max_disorder
        }));
    }
}
