/**
 * The Functions registration: one timer trigger, no logic. The schedule comes from the
 * DETECTION_SCHEDULE app setting (NCRONTAB, 6 fields, UTC). The job itself decides
 * which day windows to process (src/job), so a late, missed or replayed occurrence
 * is harmless; `runOnStartup` stays off so restarts and scale-outs do not run it.
 */
import { app } from '@azure/functions';
import { runTimerOccurrence } from '../job/timerOccurrence';

app.timer('runCommandDetection', {
  schedule: '%DETECTION_SCHEDULE%',
  runOnStartup: false,
  handler: runTimerOccurrence,
});
