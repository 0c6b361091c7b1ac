import { Migration } from '@mikro-orm/migrations';

/**
 * Announces configuration changes on the `sitewire_config` channel (PostgreSQL NOTIFY), so the
 * supervisor reacts within a second instead of waiting for its periodic sweep. Only columns an
 * operator sets fire it: the engine's own writes (status, heartbeats, counters) stay quiet.
 * The payload names the table, the operation and the ids needed to find the connection.
 */
export class Migration20261203164800_config_change_notify extends Migration {
  override up(): void {
    this.addSql(`
      create or replace function sitewire_notify_config_change() returns trigger as $$
      declare
        changed jsonb;
      begin
        -- Fields are read through jsonb: a record has no field for another table's column.
        if tg_op = 'DELETE' then changed := to_jsonb(old); else changed := to_jsonb(new); end if;
        perform pg_notify('sitewire_config', json_build_object(
          'table', tg_table_name,
          'op', lower(tg_op),
          'id', (changed->>'id')::int,
          'connection_id', case tg_table_name
            when 'mqtt_connection' then (changed->>'id')::int
            when 'mqtt_topic' then (changed->>'mqtt_connection_id')::int
            else null end,
          'site_id', case tg_table_name
            when 'site' then (changed->>'id')::int
            when 'mqtt_connection' then (changed->>'site_id')::int
            else null end
        )::text);
        return null;
      end;
      $$ language plpgsql;`);

    this.addSql(`
      create trigger site_config_notify
      after insert or delete or update of is_active on "site"
      for each row execute function sitewire_notify_config_change();`);

    this.addSql(`
      create trigger mqtt_connection_config_notify
      after insert or delete or update of broker_host, broker_port, use_tls, ca_cert, username,
        password_encrypted, client_id_prefix, discovery_pattern, is_active, site_id
      on "mqtt_connection"
      for each row execute function sitewire_notify_config_change();`);

    this.addSql(`
      create trigger mqtt_topic_config_notify
      after insert or delete or update of topic_pattern, is_active, qos_level, parser_name,
        mqtt_connection_id
      on "mqtt_topic"
      for each row execute function sitewire_notify_config_change();`);
  }

  override down(): void {
    this.addSql('drop trigger if exists mqtt_topic_config_notify on "mqtt_topic";');
    this.addSql('drop trigger if exists mqtt_connection_config_notify on "mqtt_connection";');
    this.addSql('drop trigger if exists site_config_notify on "site";');
    this.addSql('drop function if exists sitewire_notify_config_change();');
  }
}
