/**
 * `@confluentinc/schemaregistry`'s declarations import one type from `@confluentinc/kafka-javascript`, which is not a
 * dependency here (it ships a native binary we neither need nor can always download). This ambient module supplies
 * that one type so the registry client type-checks without it.
 */
declare module '@confluentinc/kafka-javascript/types/kafkajs' {
  export type IHeaders = Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}
