import { Migration } from '@mikro-orm/migrations';

/**
 * Which supervisor instance holds each connection's lease, and the lease's fencing token, so
 * the API can show the owner and status writes of a stale owner are refused.
 */
export class Migration20261203174114_connection_owner extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "mqtt_connection" add column "owner_instance" varchar(100) null, add column "lease_token" bigint null;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(
      `alter table "mqtt_connection" drop column "owner_instance", drop column "lease_token";`,
    );
  }
}
