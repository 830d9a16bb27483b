// The metrics probes over prometheus-cpp: a probe owns exactly the series it added, for exactly as
// long as it lives; two probes never share a series; /metrics is prometheus-cpp's text format.
#include "common/metrics.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sc::metrics {
namespace {

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// A component as the house builds them: its probe and handles in one struct member.
struct WidgetMetrics {
  explicit WidgetMetrics(Registry& r) : probe("widget", r) {}
  Probe probe;
  Counter made = probe.counter("sc_widget_made_total", "Widgets made");
  Gauge queued = probe.gauge("sc_widget_queued", "Widgets waiting");
  Histogram size = batchSize(probe, "widget");
};

class Widget {
 public:
  explicit Widget(Registry& r) : metrics_(r) {}
  void make(int n) {
    metrics_.made.inc(static_cast<uint64_t>(n));
    metrics_.size.observe(n);
  }
  const WidgetMetrics& metrics() const { return metrics_; }

 private:
  WidgetMetrics metrics_;
};

TEST(MetricsProbe, ADestroyedComponentLeavesNothingInTheExposition) {
  Registry registry;
  auto widget = std::make_unique<Widget>(registry);
  widget->make(3);
  const std::string live = registry.render();
  EXPECT_TRUE(has(live, "# TYPE sc_widget_made_total counter\nsc_widget_made_total 3\n")) << live;
  EXPECT_TRUE(has(live, "sc_batch_size_count{kind=\"widget\"} 1\n")) << live;

  widget.reset();
  const std::string gone = registry.render();
  EXPECT_FALSE(has(gone, "sc_widget")) << gone;
  EXPECT_FALSE(has(gone, "sc_batch_size")) << gone;
  // The registry still works for whoever comes next.
  Widget next(registry);
  EXPECT_TRUE(has(registry.render(), "sc_widget_made_total 0\n"));
}

TEST(MetricsProbe, TwoLiveProbesOfOneComponentKeepSeparateSeries) {
  Registry registry;
  auto a = std::make_unique<Widget>(registry);
  auto b = std::make_unique<Widget>(registry);
  a->make(1);
  b->make(2);
  b->make(2);
  EXPECT_EQ(a->metrics().made.value(), 1u);
  EXPECT_EQ(b->metrics().made.value(), 4u);
  EXPECT_TRUE(b->metrics().probe.labels() == (Labels{{"probe", "2"}}));
  std::string text = registry.render();
  EXPECT_TRUE(has(text, "\nsc_widget_made_total 1\n")) << text;
  EXPECT_TRUE(has(text, "\nsc_widget_made_total{probe=\"2\"} 4\n")) << text;

  // The first goes: the second's series stay, and a newcomer takes the free unlabelled slot.
  a.reset();
  text = registry.render();
  EXPECT_FALSE(has(text, "\nsc_widget_made_total 1\n")) << text;
  EXPECT_TRUE(has(text, "\nsc_widget_made_total{probe=\"2\"} 4\n")) << text;
  Widget c(registry);
  EXPECT_TRUE(c.metrics().probe.labels().empty());
  EXPECT_TRUE(has(registry.render(), "\nsc_widget_made_total 0\n"));
}

TEST(MetricsProbe, AFamilySharedByComponentsGoesWithItsLastSeries) {
  Registry registry;
  std::optional<Probe> intake(std::in_place, "intake", registry);
  std::optional<Probe> relay(std::in_place, "relay", registry);
  batchSize(*intake, "intake").observe(10);
  batchSize(*relay, "relay").observe(20);
  std::string text = registry.render();
  EXPECT_TRUE(has(text, "sc_batch_size_sum{kind=\"intake\"} 10\n")) << text;
  EXPECT_TRUE(has(text, "sc_batch_size_sum{kind=\"relay\"} 20\n")) << text;

  intake.reset();
  text = registry.render();
  EXPECT_FALSE(has(text, "kind=\"intake\"")) << text;
  EXPECT_TRUE(has(text, "sc_batch_size_sum{kind=\"relay\"} 20\n")) << text;
  relay.reset();
  EXPECT_EQ(registry.render(), "");
}

TEST(MetricsProbe, TwoOwnersOfOneSeriesAreRefused) {
  Registry registry;
  Probe store("store", registry);
  Probe other("other", registry);
  store.counter("sc_store_errors_total", "Store calls that failed");
  try {
    other.counter("sc_store_errors_total", "Store calls that failed");
    FAIL() << "a second owner of sc_store_errors_total was accepted";
  } catch (const std::logic_error& e) {
    EXPECT_TRUE(has(e.what(), "sc_store_errors_total")) << e.what();
    EXPECT_TRUE(has(e.what(), "live owner")) << e.what();
  }
  // With a label of its own it is a different series.
  other.counter("sc_store_errors_total", "Store calls that failed", {{"source", "other"}}).inc();
  EXPECT_TRUE(has(registry.render(), "sc_store_errors_total{source=\"other\"} 1\n"));
}

TEST(MetricsProbe, ANameUsedWithAnotherTypeIsRefusedByName) {
  Registry registry;
  Probe probe("widget", registry);
  probe.counter("sc_widget_made_total", "Widgets made");
  try {
    probe.gauge("sc_widget_made_total", "Widgets made");
    FAIL() << "a gauge took a counter's name";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "metric sc_widget_made_total is already a counter, not a gauge");
  }
  EXPECT_THROW(probe.counter("sc widget", "a space in the name"), std::invalid_argument);
  EXPECT_THROW(probe.counter("sc_widget_total", "bad label", {{"__reserved", "x"}}),
               std::invalid_argument);
  // A refused family leaves nothing behind.
  EXPECT_FALSE(has(registry.render(), "sc widget"));
  EXPECT_FALSE(has(registry.render(), "sc_widget_total"));
}

TEST(MetricsProbe, CountersAndGaugesReadBackExactly) {
  Registry registry;
  Probe probe("widget", registry);
  Counter c = probe.counter("sc_widget_made_total", "Widgets made");
  Gauge g = probe.gauge("sc_widget_queued", "Widgets waiting");
  c.inc();
  c.inc(41);
  g.set(7);
  g.add(-10);
  EXPECT_EQ(c.value(), 42u);
  EXPECT_EQ(g.value(), -3);
  const std::string text = registry.render();
  EXPECT_TRUE(has(text, "# HELP sc_widget_made_total Widgets made\n")) << text;
  EXPECT_TRUE(has(text, "\nsc_widget_made_total 42\n")) << text;
  EXPECT_TRUE(has(text, "\nsc_widget_queued -3\n")) << text;
}

TEST(MetricsProbe, HistogramsCountIntoTheirBuckets) {
  Registry registry;
  Probe probe("widget", registry);
  Histogram h =
      probe.histogram("sc_widget_seconds", "Widget time", latencyBuckets(), {{"step", "paint"}});
  h.observe(0.003);
  h.observe(std::chrono::milliseconds(40));
  { ScopedTimer timed(h); }
  EXPECT_EQ(h.count(), 3u);
  EXPECT_GE(h.sum(), 0.043);
  const std::string text = registry.render();
  EXPECT_TRUE(has(text, "# TYPE sc_widget_seconds histogram\n")) << text;
  // 0.003 and the empty scope are under 5 ms; all three under 50 ms.
  EXPECT_TRUE(has(text, "sc_widget_seconds_bucket{step=\"paint\",le=\"0.005\"} 2\n")) << text;
  EXPECT_TRUE(has(text, "sc_widget_seconds_bucket{step=\"paint\",le=\"0.05\"} 3\n")) << text;
  EXPECT_TRUE(has(text, "sc_widget_seconds_bucket{step=\"paint\",le=\"+Inf\"} 3\n")) << text;
  EXPECT_TRUE(has(text, "sc_widget_seconds_count{step=\"paint\"} 3\n")) << text;
}

TEST(MetricsProbe, ProbesComeAndGoWhileTheRegistryIsScraped) {
  Registry registry;
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    while (!done) (void)registry.render();
  });
  for (int i = 0; i < 2000; ++i) {
    Widget a(registry);
    Widget b(registry);
    a.make(1);
    b.make(2);
  }
  done = true;
  scraper.join();
  EXPECT_EQ(registry.render(), "");
}

TEST(MetricsProbe, TheProcessRegistryIsWhatRenderPrometheusServes) {
  Probe probe("metrics_test");
  probe.counter("sc_metrics_test_total", "A test's own counter").inc(5);
  EXPECT_TRUE(has(renderPrometheus(), "\nsc_metrics_test_total 5\n"));
}

}  // namespace
}  // namespace sc::metrics
