// Drives Stream's official JavaScript SDK against a base URL (chatvault's emulator in the
// tests) through the four export calls, and prints what came back as one JSON line.
// Environment: STREAM_BASE_URL, STREAM_API_KEY, STREAM_API_SECRET, CHANNEL_TYPE,
// CHANNEL_ID, USER_ID.
import { StreamChat } from 'stream-chat';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set`);
    process.exit(2);
  }
  return value;
};

const client = new StreamChat(env('STREAM_API_KEY'), env('STREAM_API_SECRET'), {
  baseURL: env('STREAM_BASE_URL'),
  timeout: 10000,
});

try {
  const channels = await client.exportChannels(
    [{ type: env('CHANNEL_TYPE'), id: env('CHANNEL_ID') }],
    { version: 'v2', include_truncated_messages: true },
  );
  const channelsStatus = await client.getExportChannelStatus(channels.task_id);
  const users = await client.exportUsers({ user_ids: [env('USER_ID')] });
  const usersStatus = await client.getTask(users.task_id);
  console.log(
    JSON.stringify({
      channels_task: channels.task_id,
      channels_status: channelsStatus.status,
      users_task: users.task_id,
      users_status: usersStatus.status,
    }),
  );
} catch (error) {
  console.error(`SDK call failed: ${error.message}`);
  process.exit(1);
}
