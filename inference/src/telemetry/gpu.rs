//! GPU telemetry: a background thread samples NVML and sets the `tidewatch_gpu_*` gauges.
//! Without NVML (no driver, no GPU) it logs once, reports unavailable, and stops; it
//! never affects serving.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use nvml_wrapper::Nvml;
use nvml_wrapper::enum_wrappers::device::TemperatureSensor;

use crate::telemetry::metrics::{GpuLabels, GpuMetrics};
use crate::telemetry::priority;

/// Stops the poller when dropped.
#[derive(Debug)]
pub struct GpuPoller {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl GpuPoller {
    /// Starts sampling every `period`.
    pub fn start(metrics: GpuMetrics, period: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("gpu-telemetry".into())
            .spawn(move || {
                priority::lower_current_thread();
                poll(&metrics, period, &flag);
            })
            .map_err(|error| tracing::warn!(%error, "cannot start the GPU telemetry thread"))
            .ok();
        Self { stop, thread }
    }
}

impl Drop for GpuPoller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn poll(metrics: &GpuMetrics, period: Duration, stop: &AtomicBool) {
    let nvml = match Nvml::init() {
        Ok(nvml) => nvml,
        Err(error) => {
            metrics.available.set(0);
            tracing::info!(%error, "NVML unavailable; GPU telemetry disabled");
            return;
        }
    };
    while !stop.load(Ordering::Relaxed) {
        let ok = sample(&nvml, metrics);
        metrics.available.set(i64::from(ok));
        let mut waited = Duration::ZERO;
        while waited < period && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            waited += Duration::from_millis(100);
        }
    }
}

/// One sample of every device; false when NVML stopped answering.
fn sample(nvml: &Nvml, metrics: &GpuMetrics) -> bool {
    let Ok(count) = nvml.device_count() else {
        return false;
    };
    for index in 0..count {
        let Ok(device) = nvml.device_by_index(index) else {
            return false;
        };
        let labels = GpuLabels {
            gpu: index.to_string(),
            uuid: device.uuid().unwrap_or_default(),
        };
        if let Ok(rates) = device.utilization_rates() {
            metrics
                .utilization
                .get_or_create(&labels)
                .set(f64::from(rates.gpu) / 100.0);
        }
        if let Ok(memory) = device.memory_info() {
            metrics
                .memory_used
                .get_or_create(&labels)
                .set(memory.used as f64);
            metrics
                .memory_total
                .get_or_create(&labels)
                .set(memory.total as f64);
        }
        if let Ok(celsius) = device.temperature(TemperatureSensor::Gpu) {
            metrics
                .temperature
                .get_or_create(&labels)
                .set(f64::from(celsius));
        }
        if let Ok(milliwatts) = device.power_usage() {
            metrics
                .power
                .get_or_create(&labels)
                .set(f64::from(milliwatts) / 1000.0);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_nvml_reports_unavailable_and_stops() {
        let metrics = GpuMetrics::default();
        metrics.available.set(7);
        let poller = GpuPoller::start(metrics.clone(), Duration::from_millis(50));
        std::thread::sleep(Duration::from_millis(300));
        drop(poller);
        // This machine has no GPU; on one with a driver the gauge would read 1.
        if Nvml::init().is_err() {
            assert_eq!(metrics.available.get(), 0);
        }
    }
}
