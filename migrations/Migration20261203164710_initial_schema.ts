import { Migration } from '@mikro-orm/migrations';

export class Migration20261203164710_initial_schema extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "site" ("id" serial primary key, "name" varchar(255) not null, "is_active" boolean not null default true, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now());`,
    );
    this.addSql(`alter table "site" add constraint "site_name_unique" unique ("name");`);

    this.addSql(
      `create table "mqtt_parsing_log" ("id" bigserial primary key, "site_id" int not null, "timestamp" timestamptz not null default now(), "topic" varchar(500) not null, "parser_name" varchar(100) not null default '', "error_type" text check ("error_type" in ('VALIDATION_ERROR', 'PARSE_ERROR', 'DB_ERROR', 'UNKNOWN_ERROR')) not null, "error_message" text not null, "exception_type" varchar(255) not null default '', "exception_traceback" text not null default '', "payload_sample" text not null default '', "raw_payload" bytea null, "raw_payload_truncated" boolean not null default false, "qos" smallint not null default 0, "received_at" timestamptz null, "replayed_at" timestamptz null, "replay_outcome" text null);`,
    );
    this.addSql(
      `create index "mqtt_parsing_log_site_timestamp_index" on "mqtt_parsing_log" ("site_id", "timestamp" desc);`,
    );
    this.addSql(
      `create index "mqtt_parsing_log_error_type_timestamp_index" on "mqtt_parsing_log" ("error_type", "timestamp" desc);`,
    );
    this.addSql(`create index "mqtt_parsing_log_topic_index" on "mqtt_parsing_log" ("topic");`);

    this.addSql(
      `create table "mqtt_connection" ("id" serial primary key, "site_id" int not null, "broker_host" varchar(255) not null, "broker_port" int not null default 1883, "use_tls" boolean not null default false, "ca_cert" text null, "username" varchar(255) not null default '', "password_encrypted" text null, "client_id_prefix" varchar(50) not null, "discovery_pattern" varchar(255) not null default '#', "is_active" boolean not null default true, "status" text check ("status" in ('disconnected', 'connecting', 'connected', 'error')) not null default 'disconnected', "mqtt_retry_count" int not null default 0, "mqtt_next_retry" timestamptz null, "last_connected_at" timestamptz null, "last_heartbeat_at" timestamptz null, "last_error" text null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now());`,
    );
    this.addSql(
      `alter table "mqtt_connection" add constraint "mqtt_connection_site_id_unique" unique ("site_id");`,
    );

    this.addSql(
      `create table "mqtt_topic" ("id" serial primary key, "mqtt_connection_id" int not null, "topic_pattern" varchar(255) not null, "is_active" boolean not null default true, "qos_level" smallint not null default 0, "description" text not null default '', "parser_name" varchar(100) not null default '', "subscription_count" int not null default 0, "last_subscribed_at" timestamptz null);`,
    );
    this.addSql(
      `alter table "mqtt_topic" add constraint "mqtt_topic_mqtt_connection_id_topic_pattern_unique" unique ("mqtt_connection_id", "topic_pattern");`,
    );

    this.addSql(
      `create table "mqtt_connection_log" ("id" bigserial primary key, "connection_id" int not null, "timestamp" timestamptz not null default now(), "level" text check ("level" in ('DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL')) not null, "message" text not null, "exception_type" varchar(255) not null default '', "exception_traceback" text not null default '', "broker_host" varchar(255) not null default '', "retry_attempt" int null);`,
    );
    this.addSql(
      `create index "mqtt_connection_log_connection_timestamp_index" on "mqtt_connection_log" ("connection_id", "timestamp" desc);`,
    );
    this.addSql(
      `create index "mqtt_connection_log_level_timestamp_index" on "mqtt_connection_log" ("level", "timestamp" desc);`,
    );

    this.addSql(
      `create table "gateway" ("id" serial primary key, "serial_number" varchar(100) not null, "site_id" int not null, "is_online" boolean not null default false, "expected_heartbeat_interval" int not null default 60, "last_seen_at" timestamptz null, "status" varchar(50) not null default '', "firmware_version" varchar(100) not null default '', "uptime_seconds" bigint null, "signal_strength_dbm" int null, "mqtt_api_version" varchar(20) not null default '', "last_status_at" timestamptz null, "raw_metadata" jsonb null, "created_at" timestamptz not null default now());`,
    );
    this.addSql(
      `alter table "gateway" add constraint "gateway_serial_number_unique" unique ("serial_number");`,
    );
    this.addSql(`create index "gateway_site_id_index" on "gateway" ("site_id");`);

    this.addSql(
      `create table "discovered_topic" ("id" serial primary key, "site_id" int not null, "topic_path" varchar(500) not null, "first_seen_at" timestamptz not null, "last_seen_at" timestamptz not null, "message_count" bigint not null default 0, "sample_payload" jsonb null, "payload_size_avg" double precision null, "is_processable" boolean not null default false, "parser_name" varchar(100) not null default '');`,
    );
    this.addSql(
      `create index "discovered_topic_site_id_last_seen_at_index" on "discovered_topic" ("site_id", "last_seen_at");`,
    );
    this.addSql(
      `alter table "discovered_topic" add constraint "discovered_topic_site_id_topic_path_unique" unique ("site_id", "topic_path");`,
    );

    this.addSql(
      `create table "datalogger" ("id" serial primary key, "serial_number" varchar(100) not null, "gateway_id" int not null, "site_id" int not null, "status" varchar(50) not null default '', "is_online" boolean not null default true, "last_seen_at" timestamptz null);`,
    );
    this.addSql(
      `alter table "datalogger" add constraint "datalogger_serial_number_unique" unique ("serial_number");`,
    );
    this.addSql(`create index "datalogger_gateway_id_index" on "datalogger" ("gateway_id");`);
    this.addSql(`create index "datalogger_site_id_index" on "datalogger" ("site_id");`);

    this.addSql(
      `create table "device" ("id" serial primary key, "serial_number" varchar(100) not null, "datalogger_id" int not null, "device_type" varchar(100) not null, "device_type_normalized" varchar(100) not null, "last_seen_at" timestamptz null);`,
    );
    this.addSql(
      `alter table "device" add constraint "device_serial_number_unique" unique ("serial_number");`,
    );
    this.addSql(`create index "device_datalogger_id_index" on "device" ("datalogger_id");`);

    this.addSql(
      `create table "sensor" ("id" serial primary key, "serial_number" varchar(200) not null, "device_id" int not null, "sensor_type" varchar(100) not null, "label" varchar(255) not null default '', "is_online" boolean not null default true, "last_reading" jsonb null, "last_reading_at" timestamptz null);`,
    );
    this.addSql(
      `alter table "sensor" add constraint "sensor_serial_number_unique" unique ("serial_number");`,
    );
    this.addSql(`create index "sensor_device_id_index" on "sensor" ("device_id");`);

    this.addSql(
      `create table "sensor_reading" ("sensor_id" int not null, "ts" timestamptz not null, "value" jsonb not null, "received_at" timestamptz not null default now(), constraint "sensor_reading_pkey" primary key ("sensor_id", "ts"));`,
    );

    this.addSql(
      `alter table "mqtt_parsing_log" add constraint "mqtt_parsing_log_site_id_foreign" foreign key ("site_id") references "site" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "mqtt_connection" add constraint "mqtt_connection_site_id_foreign" foreign key ("site_id") references "site" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "mqtt_topic" add constraint "mqtt_topic_mqtt_connection_id_foreign" foreign key ("mqtt_connection_id") references "mqtt_connection" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "mqtt_connection_log" add constraint "mqtt_connection_log_connection_id_foreign" foreign key ("connection_id") references "mqtt_connection" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "gateway" add constraint "gateway_site_id_foreign" foreign key ("site_id") references "site" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "discovered_topic" add constraint "discovered_topic_site_id_foreign" foreign key ("site_id") references "site" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "datalogger" add constraint "datalogger_gateway_id_foreign" foreign key ("gateway_id") references "gateway" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "datalogger" add constraint "datalogger_site_id_foreign" foreign key ("site_id") references "site" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "device" add constraint "device_datalogger_id_foreign" foreign key ("datalogger_id") references "datalogger" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "sensor" add constraint "sensor_device_id_foreign" foreign key ("device_id") references "device" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "sensor_reading" add constraint "sensor_reading_sensor_id_foreign" foreign key ("sensor_id") references "sensor" ("id") on update cascade on delete cascade;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(
      `alter table "mqtt_parsing_log" drop constraint "mqtt_parsing_log_site_id_foreign";`,
    );

    this.addSql(`alter table "mqtt_connection" drop constraint "mqtt_connection_site_id_foreign";`);

    this.addSql(`alter table "gateway" drop constraint "gateway_site_id_foreign";`);

    this.addSql(
      `alter table "discovered_topic" drop constraint "discovered_topic_site_id_foreign";`,
    );

    this.addSql(`alter table "datalogger" drop constraint "datalogger_site_id_foreign";`);

    this.addSql(
      `alter table "mqtt_topic" drop constraint "mqtt_topic_mqtt_connection_id_foreign";`,
    );

    this.addSql(
      `alter table "mqtt_connection_log" drop constraint "mqtt_connection_log_connection_id_foreign";`,
    );

    this.addSql(`alter table "datalogger" drop constraint "datalogger_gateway_id_foreign";`);

    this.addSql(`alter table "device" drop constraint "device_datalogger_id_foreign";`);

    this.addSql(`alter table "sensor" drop constraint "sensor_device_id_foreign";`);

    this.addSql(`alter table "sensor_reading" drop constraint "sensor_reading_sensor_id_foreign";`);

    this.addSql(`drop table if exists "site" cascade;`);

    this.addSql(`drop table if exists "mqtt_parsing_log" cascade;`);

    this.addSql(`drop table if exists "mqtt_connection" cascade;`);

    this.addSql(`drop table if exists "mqtt_topic" cascade;`);

    this.addSql(`drop table if exists "mqtt_connection_log" cascade;`);

    this.addSql(`drop table if exists "gateway" cascade;`);

    this.addSql(`drop table if exists "discovered_topic" cascade;`);

    this.addSql(`drop table if exists "datalogger" cascade;`);

    this.addSql(`drop table if exists "device" cascade;`);

    this.addSql(`drop table if exists "sensor" cascade;`);

    this.addSql(`drop table if exists "sensor_reading" cascade;`);
  }
}
