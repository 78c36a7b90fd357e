// store_figures.cc: the store's fields of /streaming/storez and its families of /metrics (see
// store_figures.h).
#include "server/monitor/store_figures.h"

namespace tandem::server {

void AddStoreFields(const MonitorSource& source, nlohmann::ordered_json* storez) {
  nlohmann::ordered_json& j = *storez;
  const store::StoreSpace space = source.store_space();
  j["file_bytes"] = space.file_bytes;
  j["wal_bytes"] = space.wal_bytes;
  j["page_bytes"] = space.page_bytes;
  j["pages"] = space.pages;
  j["free_pages"] = space.free_pages;
  const store::ReclaimProgress reclaim = source.store_reclaim();
  j["reclaim"] = {{"channels", reclaim.channels},
                  {"rows_left", reclaim.rows_left},
                  {"rows_reclaimed", reclaim.rows_reclaimed}};
}

void CollectStoreFamilies(const MonitorSource& source, bool serving, MetricsRegistry& m) {
  Gauge* file_bytes = m.GetGauge("tandem_store_file_bytes", "Size of the store's database file.");
  Gauge* wal_bytes = m.GetGauge("tandem_store_wal_bytes", "Size of the store's write-ahead log.");
  Gauge* free_pages =
      m.GetGauge("tandem_store_free_pages", "Free pages in the store file, not yet given back.");
  Gauge* page_bytes = m.GetGauge("tandem_store_page_bytes", "Page size of the store file.");
  Counter* syncs = m.GetCounter("tandem_store_syncs_total",
                                "fdatasyncs that made commits durable (store.sync full).");
  Gauge* reclaim_channels =
      m.GetGauge("tandem_store_reclaim_channels",
                 "Deleted channels whose messages the store has not all deleted yet.");
  Gauge* reclaim_rows =
      m.GetGauge("tandem_store_reclaim_rows", "Message rows of deleted channels left to delete.");
  Counter* reclaimed = m.GetCounter("tandem_store_reclaimed_rows_total",
                                    "Message rows of deleted channels deleted since the store "
                                    "was opened.");
  if (!serving) return;
  const store::StoreSpace space = source.store_space();
  file_bytes->Set(static_cast<double>(space.file_bytes));
  wal_bytes->Set(static_cast<double>(space.wal_bytes));
  free_pages->Set(static_cast<double>(space.free_pages));
  page_bytes->Set(static_cast<double>(space.page_bytes));
  syncs->Set(source.store_syncs());
  const store::ReclaimProgress reclaim = source.store_reclaim();
  reclaim_channels->Set(static_cast<double>(reclaim.channels));
  reclaim_rows->Set(static_cast<double>(reclaim.rows_left));
  reclaimed->Set(reclaim.rows_reclaimed);
}

}  // namespace tandem::server
