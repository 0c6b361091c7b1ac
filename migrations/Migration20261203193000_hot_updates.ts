import { Migration } from '@mikro-orm/migrations';

/**
 * Leaves room in every page of the tables the ingest path updates all day (gateways,
 * dataloggers, devices, sensors), so an update of their last-seen times and last readings
 * can stay on its page as a heap-only tuple: no new index entries, no index bloat. Measured
 * on two cores, 3,500 sensor rows updated per statement cost 15-16 µs each at the default
 * fillfactor (100) and 5.3 µs at 70, with nine updates in ten staying heap-only.
 * Rows already stored move into the free space as they are updated and vacuumed.
 */
export class Migration20261203193000_hot_updates extends Migration {
  override up(): void {
    for (const table of HOT_TABLES) this.addSql(`alter table "${table}" set (fillfactor = 70);`);
  }

  override down(): void {
    for (const table of HOT_TABLES) this.addSql(`alter table "${table}" reset (fillfactor);`);
  }
}

const HOT_TABLES = ['gateway', 'datalogger', 'device', 'sensor'];
