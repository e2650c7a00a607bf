/** The synthetic tenant-day generator: see ./day for what a day contains. */
export {
  addDays,
  isDay,
  dayTimestamp,
  fileSha256,
  generateDayRows,
  generateDays,
  GENERATED_TABLES,
  PLANTED_PATHS,
  RUN_COMMAND_OPERATION,
  type GeneratedDay,
  type GeneratedDaySummary,
  type GeneratedRows,
  type GeneratedTable,
  type GeneratorOptions,
  type PlantedPath,
  type PlantedScript,
  type RowSink,
} from './day';
export { SeededRandom } from './random';
export { dayFolder, writeDays, type WrittenDay } from './write';
