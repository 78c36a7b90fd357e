// store_figures.h: the store's own figures as monitoring shows them: tandem's fields of
// /streaming/storez (the file's space, the reclaim of deleted channels) and the tandem_store_*
// families of /metrics read from the store (the commit histograms are not here: the streaming
// layer's store writer feeds them through Monitor::RecordCommit). Every field and metric:
// ENDPOINTS.md.
//
// Thread safety: loop thread, like Monitor.
#pragma once

#include <nlohmann/json.hpp>

#include "server/monitor/metrics.h"
#include "server/monitor/monitor_source.h"

namespace tandem::server {

// Adds `file_bytes`, `wal_bytes`, `page_bytes`, `pages`, `free_pages` and `reclaim`
// (`channels`, `rows_left`, `rows_reclaimed`) to a storez answer. Ask only while serving.
void AddStoreFields(const MonitorSource& source, nlohmann::ordered_json* storez);

// Registers the store's families in `m`, so that every scrape lists them, and sets them from
// `source` when `serving` (otherwise they keep their last values: only the active has a store).
void CollectStoreFamilies(const MonitorSource& source, bool serving, MetricsRegistry& m);

}  // namespace tandem::server
