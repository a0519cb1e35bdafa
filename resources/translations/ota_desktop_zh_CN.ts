<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>BackendConnection</name>
    <message>
        <source>No keyring is available to hold the backend token. Open Settings to choose how to keep secrets.</source>
        <translation>没有可用的密钥环来保存后端令牌。请打开“设置”选择密钥的保存方式。</translation>
    </message>
    <message>
        <source>The embedded backend is not installed with this application. Connect to a remote backend in Settings.</source>
        <translation>此应用未安装内置后端。请在“设置”中连接远程后端。</translation>
    </message>
    <message>
        <source>Cannot create the data directory: %1</source>
        <translation>无法创建数据目录：%1</translation>
    </message>
    <message>
        <source>No remote backend URL is set. Enter it in Settings.</source>
        <translation>尚未设置远程后端地址。请在“设置”中填写。</translation>
    </message>
    <message>
        <source>Cannot reach the backend at %1: %2</source>
        <translation>无法连接后端 %1：%2</translation>
    </message>
    <message>
        <source>The backend at %1 does not answer: %2</source>
        <translation>后端 %1 没有响应：%2</translation>
    </message>
</context>
<context>
    <name>BackendHealth</name>
    <message>
        <source>Backend: database not answering</source>
        <extracomment>after a restart our own backend (and its broker) may still be letting go of the ports GET /api/v1/health &quot;checks&quot; (newer backends): what the status bar says when one fails</extracomment>
        <translation>后端：数据库无响应</translation>
    </message>
    <message>
        <source>Backend: object store not answering</source>
        <translation>后端：对象存储无响应</translation>
    </message>
    <message>
        <source>Backend: MQTT broker not answering</source>
        <translation>后端：MQTT 代理无响应</translation>
    </message>
    <message>
        <source>Backend: dispatcher not running</source>
        <translation>后端：分发器未运行</translation>
    </message>
    <message>
        <source>Backend: disk almost full</source>
        <translation>后端：磁盘空间即将用尽</translation>
    </message>
    <message>
        <source>Backend: %1 failing</source>
        <translation>后端：%1 异常</translation>
    </message>
    <message>
        <source>Backend: unhealthy</source>
        <translation>后端：运行异常</translation>
    </message>
    <message>
        <source>Backend: not answering</source>
        <translation>后端：无响应</translation>
    </message>
</context>
<context>
    <name>BackendProcess</name>
    <message>
        <source>Backend: MQTT port %1 is taken</source>
        <translation>后端：MQTT 端口 %1 已被占用</translation>
    </message>
    <message>
        <source>Backend: HTTP port %1 is taken</source>
        <translation>后端：HTTP 端口 %1 已被占用</translation>
    </message>
    <message>
        <source>Another program uses the MQTT port %1, so the backend&apos;s broker cannot start. Devices are set up to connect to this port: stop the other program and restart the backend, or choose another MQTT port in Settings (devices then need the new port).</source>
        <translation>另一个程序占用了 MQTT 端口 %1，后端的 MQTT 代理无法启动。设备已配置为连接此端口：请停止该程序后重启后端，或在“设置”中选择其他 MQTT 端口（之后设备需要改用新端口）。</translation>
    </message>
    <message>
        <source>Another program uses the HTTP port %1, so the backend cannot start. Stop the other program and restart the backend, or choose another HTTP port in Settings (devices then need the new address).</source>
        <translation>另一个程序占用了 HTTP 端口 %1，后端无法启动。请停止该程序后重启后端，或在“设置”中选择其他 HTTP 端口（之后设备需要改用新地址）。</translation>
    </message>
    <message>
        <source>The MQTT broker Mosquitto is not installed. Install it (for example &quot;sudo apt-get install mosquitto&quot;) or configure an external broker in Settings.</source>
        <translation>未安装 MQTT 代理 Mosquitto。请安装（例如 “sudo apt-get install mosquitto”），或在“设置”中配置外部代理。</translation>
    </message>
    <message>
        <source> (HTTP port %1, MQTT port %2)</source>
        <translation>（HTTP 端口 %1，MQTT 端口 %2）</translation>
    </message>
    <message>
        <source>A port the backend needs is already taken%1. Choose other ports in Settings, or 0 to pick free ones automatically.</source>
        <translation>后端需要的端口已被占用%1。请在“设置”中选择其他端口，或设为 0 自动选择空闲端口。</translation>
    </message>
    <message>
        <source>The backend cannot write its data directory. Choose another data directory in Settings.</source>
        <translation>后端无法写入数据目录。请在“设置”中选择其他数据目录。</translation>
    </message>
    <message>
        <source>The backend did not report that it is ready.</source>
        <translation>后端未报告已就绪。</translation>
    </message>
    <message>
        <source>The backend stopped (exit code %1).</source>
        <translation>后端已停止（退出码 %1）。</translation>
    </message>
    <message>
        <source>The backend could not be started: %1</source>
        <translation>无法启动后端：%1</translation>
    </message>
</context>
<context>
    <name>ConnectionDialog</name>
    <message>
        <source>Connection</source>
        <translation>连接</translation>
    </message>
    <message>
        <source>Devices log in to the MQTT broker with the user name &lt;i&gt;productID&amp;amp;deviceName&lt;/i&gt; and their device secret as password, and download firmware over HTTP. Products &amp;amp; devices → &lt;i&gt;Export provisioning…&lt;/i&gt; writes all of this for every device of a product.</source>
        <translation>设备以用户名 &lt;i&gt;productID&amp;amp;deviceName&lt;/i&gt;、设备密钥为密码登录 MQTT 代理，并通过 HTTP 下载固件。“产品和设备”页的&lt;i&gt;导出设备配置…&lt;/i&gt;可为产品的每台设备导出这些信息。</translation>
    </message>
    <message>
        <source>Backend</source>
        <translation>后端</translation>
    </message>
    <message>
        <source>HTTP URL:</source>
        <translation>HTTP 地址：</translation>
    </message>
    <message>
        <source>not running</source>
        <translation>未运行</translation>
    </message>
    <message>
        <source>&amp;Show</source>
        <translation>显示(&amp;S)</translation>
    </message>
    <message>
        <source>Admin token:</source>
        <translation>管理员令牌：</translation>
    </message>
    <message>
        <source>Scripts send it as the iThings-token header. Keep it secret.</source>
        <translation>脚本通过 iThings-token 请求头发送它。请妥善保密。</translation>
    </message>
    <message>
        <source>Devices</source>
        <translation>设备</translation>
    </message>
    <message>
        <source>The broker of a remote backend is set up by its operator: ask them for its address.</source>
        <translation>远程后端的 MQTT 代理由其管理员配置：请向管理员询问地址。</translation>
    </message>
    <message>
        <source>External broker:</source>
        <translation>外部代理：</translation>
    </message>
    <message>
        <source>On this machine:</source>
        <translation>本机设备：</translation>
    </message>
    <message>
        <source>On the LAN:</source>
        <translation>局域网设备：</translation>
    </message>
    <message>
        <source>Devices on other machines use one of these addresses.</source>
        <translation>其他机器上的设备使用以上任一地址。</translation>
    </message>
    <message>
        <source>LAN exposure is on, but this machine has no LAN address right now.</source>
        <translation>已开启局域网监听，但本机目前没有局域网地址。</translation>
    </message>
    <message>
        <source>LAN exposure is off: the broker and the HTTP server accept connections from this machine only. To let devices on the network connect, turn on &quot;Broker and file server listen on the LAN&quot; in Settings.</source>
        <translation>局域网监听已关闭：MQTT 代理和 HTTP 服务只接受本机连接。要让网络中的设备连接，请在“设置”中开启“MQTT 代理和文件服务在局域网监听”。</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <source>&amp;Hide</source>
        <translation>隐藏(&amp;H)</translation>
    </message>
</context>
<context>
    <name>DeviceDialog</name>
    <message>
        <source>New device of %1</source>
        <translation>为 %1 新建设备</translation>
    </message>
    <message>
        <source>generated when empty</source>
        <translation>留空则自动生成</translation>
    </message>
    <message>
        <source>Device &amp;name:</source>
        <translation>设备名称(&amp;N)：</translation>
    </message>
    <message>
        <source>Current &amp;version:</source>
        <translation>当前版本(&amp;V)：</translation>
    </message>
    <message>
        <source>&amp;Secret:</source>
        <translation>密钥(&amp;S)：</translation>
    </message>
    <message>
        <source>Enter a device name.</source>
        <translation>请输入设备名称。</translation>
    </message>
    <message>
        <source>A device name cannot contain spaces or / + # &amp; $.</source>
        <translation>设备名称不能包含空格或 / + # &amp; $。</translation>
    </message>
    <message>
        <source>Enter the version the device runs now.</source>
        <translation>请输入设备当前运行的版本。</translation>
    </message>
    <message>
        <source>required, e.g. 1.0.0</source>
        <translation>必填，例如 1.0.0</translation>
    </message>
    <message>
        <source>The firmware version the device runs now (required).</source>
        <translation>设备当前运行的固件版本（必填）。</translation>
    </message>
</context>
<context>
    <name>DevicePicker</name>
    <message>
        <source>Search devices…</source>
        <translation>搜索设备…</translation>
    </message>
    <message>
        <source>Check shown</source>
        <translation>勾选显示的</translation>
    </message>
    <message>
        <source>Check selected</source>
        <translation>勾选选中的</translation>
    </message>
    <message>
        <source>Uncheck all</source>
        <translation>全部取消勾选</translation>
    </message>
    <message>
        <source>Paste device names (one per line or comma separated)</source>
        <translation>粘贴设备名称（每行一个或以逗号分隔）</translation>
    </message>
    <message>
        <source>Check listed</source>
        <translation>勾选列表中的</translation>
    </message>
    <message numerus="yes">
        <source>%n device(s) checked from the list.</source>
        <translation>
            <numerusform>已按列表勾选 %n 台设备。</numerusform>
        </translation>
    </message>
    <message>
        <source>Not in this product: %1</source>
        <translation>不属于此产品：%1</translation>
    </message>
    <message numerus="yes">
        <source>%n device(s) checked</source>
        <translation>
            <numerusform>已勾选 %n 台设备</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>DevicesModel</name>
    <message>
        <source>online</source>
        <translation>在线</translation>
    </message>
    <message>
        <source>offline</source>
        <translation>离线</translation>
    </message>
    <message>
        <source>Device</source>
        <translation>设备</translation>
    </message>
    <message>
        <source>Version</source>
        <translation>版本</translation>
    </message>
    <message>
        <source>Connection</source>
        <translation>连接</translation>
    </message>
    <message>
        <source>Last seen</source>
        <translation>最后在线</translation>
    </message>
</context>
<context>
    <name>FirmwareDetailDialog</name>
    <message>
        <source>Firmware %1 %2</source>
        <translation>固件 %1 %2</translation>
    </message>
    <message>
        <source>differential</source>
        <translation>差分包</translation>
    </message>
    <message>
        <source>whole</source>
        <translation>整包</translation>
    </message>
    <message>
        <source>ID:</source>
        <translation>ID：</translation>
    </message>
    <message>
        <source>Name:</source>
        <translation>名称：</translation>
    </message>
    <message>
        <source>Version:</source>
        <translation>版本：</translation>
    </message>
    <message>
        <source>Product:</source>
        <translation>产品：</translation>
    </message>
    <message>
        <source>Package:</source>
        <translation>升级包：</translation>
    </message>
    <message>
        <source>Digest:</source>
        <translation>摘要：</translation>
    </message>
    <message>
        <source>Total size:</source>
        <translation>总大小：</translation>
    </message>
    <message>
        <source>Created:</source>
        <translation>创建时间：</translation>
    </message>
    <message>
        <source>Description:</source>
        <translation>描述：</translation>
    </message>
    <message>
        <source>Extra data:</source>
        <translation>扩展数据：</translation>
    </message>
</context>
<context>
    <name>FirmwareFilesModel</name>
    <message>
        <source>File</source>
        <translation>文件</translation>
    </message>
    <message>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <source>Digest</source>
        <translation>摘要</translation>
    </message>
</context>
<context>
    <name>FirmwareModel</name>
    <message>
        <source>differential</source>
        <translation>差分包</translation>
    </message>
    <message>
        <source>whole</source>
        <translation>整包</translation>
    </message>
    <message>
        <source>ID</source>
        <translation>ID</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <source>Version</source>
        <translation>版本</translation>
    </message>
    <message>
        <source>Product</source>
        <translation>产品</translation>
    </message>
    <message>
        <source>Package</source>
        <translation>升级包</translation>
    </message>
    <message>
        <source>Digest</source>
        <translation>摘要</translation>
    </message>
    <message>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <source>Created</source>
        <translation>创建时间</translation>
    </message>
</context>
<context>
    <name>FirmwarePage</name>
    <message>
        <source>Search name, version, product…</source>
        <translation>搜索名称、版本、产品…</translation>
    </message>
    <message>
        <source>New firmware…</source>
        <translation>新建固件…</translation>
    </message>
    <message>
        <source>Details…</source>
        <translation>详情…</translation>
    </message>
    <message>
        <source>New task…</source>
        <translation>新建任务…</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <source>Firmware</source>
        <translation>固件</translation>
    </message>
    <message>
        <source>Delete firmware</source>
        <translation>删除固件</translation>
    </message>
    <message>
        <source>Delete firmware %1 %2 with its tasks, records and files?</source>
        <translation>删除固件 %1 %2 及其任务、记录和文件？</translation>
    </message>
    <message>
        <source>Delete firmware %1 %2 and its files? No task uses it.</source>
        <translation>删除固件 %1 %2 及其文件？没有任务使用它。</translation>
    </message>
    <message numerus="yes">
        <source>Delete firmware %1 %2? %n task(s) use it: they are deleted with it, with every device&apos;s upgrade record, and so are its files. This cannot be undone.</source>
        <translation>
            <numerusform>删除固件 %1 %2？有 %n 个任务使用它：这些任务将随之删除，连同每台设备的升级记录，其文件也会删除。此操作无法撤销。</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>Forms</name>
    <message>
        <source>Cannot reach the backend: %1</source>
        <translation>无法连接后端：%1</translation>
    </message>
    <message>
        <source>The backend refused the token: %1</source>
        <translation>后端拒绝了令牌：%1</translation>
    </message>
    <message>
        <source>%1 (code %2)</source>
        <translation>%1（错误码 %2）</translation>
    </message>
</context>
<context>
    <name>ImportDevicesDialog</name>
    <message>
        <source>S&amp;kip devices that already exist</source>
        <translation>跳过已存在的设备(&amp;K)</translation>
    </message>
    <message>
        <source>Devices of this product with the same name are left as they are instead of failing the import.</source>
        <translation>此产品中同名的设备保持不变，而不会使导入失败。</translation>
    </message>
    <message>
        <source>no device name</source>
        <translation>缺少设备名称</translation>
    </message>
    <message>
        <source>no version (the version the device runs now)</source>
        <translation>缺少版本（设备当前运行的版本）</translation>
    </message>
    <message>
        <source>device name &quot;%1&quot;: use 1-64 letters, digits, _ . - only</source>
        <translation>设备名称“%1”：只能使用 1-64 个字母、数字、_ . -</translation>
    </message>
    <message>
        <source>version &quot;%1&quot;: use letters, digits and . _ + - only (at most 64)</source>
        <translation>版本“%1”：只能使用字母、数字和 . _ + -（最多 64 个）</translation>
    </message>
    <message>
        <source>secret: use 1-64 letters, digits, _ . - only</source>
        <translation>密钥：只能使用 1-64 个字母、数字、_ . -</translation>
    </message>
    <message>
        <source>starts with &apos;%1&apos;, which a spreadsheet would run as a formula</source>
        <translation>以“%1”开头，电子表格会将其当作公式执行</translation>
    </message>
    <message>
        <source>device name repeated (first on line %1)</source>
        <translation>设备名称重复（首次出现在第 %1 行）</translation>
    </message>
    <message>
        <source>not valid CSV: %1</source>
        <translation>不是有效的 CSV：%1</translation>
    </message>
    <message>
        <source>Line %1: %2</source>
        <translation>第 %1 行：%2</translation>
    </message>
    <message numerus="yes">
        <source>%n line(s) cannot be imported:</source>
        <translation>
            <numerusform>%n 行无法导入：</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n line(s) cannot be imported; each is listed below:</source>
        <translation>
            <numerusform>%n 行无法导入，逐行列在下方：</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>All %n device(s) already exist: nothing to import.</source>
        <translation>
            <numerusform>全部 %n 台设备均已存在：没有可导入的设备。</numerusform>
        </translation>
    </message>
    <message>
        <source>Tick &quot;Skip devices that already exist&quot; to import the others.</source>
        <translation>勾选“跳过已存在的设备”即可导入其余设备。</translation>
    </message>
    <message>
        <source>Import devices into %1</source>
        <translation>导入设备到 %1</translation>
    </message>
    <message>
        <source>Open CSV file…</source>
        <translation>打开 CSV 文件…</translation>
    </message>
    <message>
        <source>Devices (CSV):</source>
        <translation>设备（CSV）：</translation>
    </message>
    <message>
        <source>Open device list</source>
        <translation>打开设备列表</translation>
    </message>
    <message>
        <source>CSV files (*.csv *.txt);;All files (*)</source>
        <translation>CSV 文件 (*.csv *.txt);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Enter at least one line &quot;deviceName,version&quot;.</source>
        <translation>请至少输入一行 “deviceName,version”。</translation>
    </message>
    <message>
        <source>At most %1 devices per import.</source>
        <translation>每次最多导入 %1 台设备。</translation>
    </message>
    <message>
        <source>Line %1 needs a device name (no spaces or / + # &amp; $) and a version.</source>
        <translation>第 %1 行需要设备名称（不含空格或 / + # &amp; $）和版本。</translation>
    </message>
</context>
<context>
    <name>ImportedSecretsDialog</name>
    <message>
        <source>Devices imported</source>
        <translation>设备已导入</translation>
    </message>
    <message numerus="yes">
        <source>%n device(s) created. Save their secrets to a file (CSV: productID, deviceName, deviceSecret; readable by you only) or copy them: devices log in with them.</source>
        <translation>
            <numerusform>已创建 %n 台设备。请将其密钥保存到文件（CSV：productID、deviceName、deviceSecret；仅您本人可读）或复制：设备需要用它们登录。</numerusform>
        </translation>
    </message>
    <message>
        <source>&amp;Save as CSV…</source>
        <translation>保存为 CSV(&amp;S)…</translation>
    </message>
    <message>
        <source>&amp;Copy CSV</source>
        <translation>复制 CSV(&amp;C)</translation>
    </message>
    <message>
        <source>Copied to the clipboard.</source>
        <translation>已复制到剪贴板。</translation>
    </message>
    <message>
        <source>Save device secrets</source>
        <translation>保存设备密钥</translation>
    </message>
    <message>
        <source>CSV files (*.csv)</source>
        <translation>CSV 文件 (*.csv)</translation>
    </message>
    <message>
        <source>Saved to %1</source>
        <translation>已保存到 %1</translation>
    </message>
</context>
<context>
    <name>KeyringChoiceDialog</name>
    <message>
        <source>No keyring available</source>
        <extracomment>changing these restarts the connection to the backend</extracomment>
        <translation>没有可用的密钥环</translation>
    </message>
    <message>
        <source>This system has no keyring to keep secrets safely (keyring backend: %1).</source>
        <translation>本系统没有可安全保存密钥的密钥环（keyring 后端：%1）。</translation>
    </message>
    <message>
        <source>OTA Desktop keeps tokens and passwords only in the system keyring, never in its settings file. Start a keyring service (for example GNOME Keyring or KWallet) and restart the app, or keep secrets in memory for this session only: they are forgotten when the app quits, and a new admin token is made for the embedded backend at every start.</source>
        <translation>OTA Desktop 只把令牌和密码保存在系统密钥环中，从不写入设置文件。请启动密钥环服务（例如 GNOME Keyring 或 KWallet）后重启应用，或仅在本次会话的内存中保存密钥：退出应用后即被遗忘，内置后端每次启动都会生成新的管理令牌。</translation>
    </message>
    <message>
        <source>Keep secrets for this session only</source>
        <translation>仅在本次会话中保存密钥</translation>
    </message>
    <message>
        <source>Quit</source>
        <translation>退出</translation>
    </message>
</context>
<context>
    <name>LiveTaskView</name>
    <message>
        <source>All statuses</source>
        <translation>全部状态</translation>
    </message>
    <message>
        <source>Filter devices, versions, descriptions…</source>
        <translation>筛选设备、版本、描述…</translation>
    </message>
    <message>
        <source>&amp;Retry selected</source>
        <translation>重试所选(&amp;R)</translation>
    </message>
    <message>
        <source>Cancel selected</source>
        <translation>取消所选</translation>
    </message>
    <message>
        <source>Reload</source>
        <translation>重新加载</translation>
    </message>
    <message>
        <source>● live</source>
        <translation>● 实时</translation>
    </message>
    <message>
        <source>connecting…</source>
        <translation>正在连接…</translation>
    </message>
    <message>
        <source>reconnecting…</source>
        <translation>正在重连…</translation>
    </message>
    <message>
        <source>not live</source>
        <translation>未实时</translation>
    </message>
    <message>
        <source>&lt;b&gt;Task %1&lt;/b&gt; → version %2 · %3</source>
        <translation>&lt;b&gt;任务 %1&lt;/b&gt; → 版本 %2 · %3</translation>
    </message>
    <message numerus="yes">
        <source>%n device(s)</source>
        <translation>
            <numerusform>%n 台设备</numerusform>
        </translation>
    </message>
    <message>
        <source>success %1%</source>
        <translation>成功 %1%</translation>
    </message>
    <message>
        <source>Retry</source>
        <translation>重试</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>%1: %2 done</source>
        <translation>%1：已完成 %2 项</translation>
    </message>
    <message numerus="yes">
        <source>%n skipped (status does not allow it)</source>
        <translation>
            <numerusform>跳过 %n 项（状态不允许）</numerusform>
        </translation>
    </message>
    <message>
        <source>Cancel upgrades</source>
        <translation>取消升级</translation>
    </message>
    <message numerus="yes">
        <source>Cancel the upgrade of %n device(s) (%1)? This task stops pushing to them; a device already upgrading is not told to stop. This cannot be undone.</source>
        <translation>
            <numerusform>取消 %n 台设备的升级（%1）？本任务将不再向它们推送；正在升级的设备不会收到停止通知。此操作无法撤销。</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n selected device(s) already finished are left as they are.</source>
        <translation>
            <numerusform>所选设备中已结束的 %n 台保持不变。</numerusform>
        </translation>
    </message>
    <message>
        <source>failed: %1</source>
        <translation>失败：%1</translation>
    </message>
    <message>
        <source>&amp;Pause</source>
        <translation>暂停(&amp;P)</translation>
    </message>
    <message>
        <source>Stop pushing; devices already pushed carry on</source>
        <translation>停止推送；已推送的设备继续升级</translation>
    </message>
    <message>
        <source>Resu&amp;me</source>
        <translation>继续(&amp;M)</translation>
    </message>
    <message>
        <source>&amp;Advance to next wave…</source>
        <translation>推进到下一批(&amp;A)…</translation>
    </message>
    <message>
        <source>Release the next wave now, whatever the advance rule says</source>
        <translation>立即放行下一批，不论推进规则如何</translation>
    </message>
    <message>
        <source>&amp;Export results…</source>
        <translation>导出结果(&amp;E)…</translation>
    </message>
    <message>
        <source>Every device&apos;s result as CSV (for a spreadsheet)</source>
        <translation>每台设备的结果，CSV 格式（用于电子表格）</translation>
    </message>
    <message>
        <source>S&amp;ummary…</source>
        <translation>摘要(&amp;U)…</translation>
    </message>
    <message>
        <source>A one-page summary of the task, opened in the browser</source>
        <translation>任务的单页摘要，在浏览器中打开</translation>
    </message>
    <message>
        <source>paused</source>
        <translation>已暂停</translation>
    </message>
    <message>
        <source>Stopped automatically: %1</source>
        <translation>已自动中止：%1</translation>
    </message>
    <message>
        <source>Wave %1 of %2</source>
        <translation>第 %1 批 / 共 %2 批</translation>
    </message>
    <message>
        <source>No automatic abort.</source>
        <translation>不自动中止。</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>失败</translation>
    </message>
    <message>
        <source>timed out</source>
        <translation>超时</translation>
    </message>
    <message>
        <source>failed or timed out</source>
        <translation>失败或超时</translation>
    </message>
    <message>
        <source>Abort at ≥ %1% %2 after %3 finished — now %4 of %5 (%6%)</source>
        <translation>完成 %3 台后%2 ≥ %1% 即中止 — 当前 %5 台中 %4 台（%6%）</translation>
    </message>
    <message>
        <source>Pause</source>
        <translation>暂停</translation>
    </message>
    <message>
        <source>Resume</source>
        <translation>继续</translation>
    </message>
    <message>
        <source>Advance</source>
        <translation>推进</translation>
    </message>
    <message>
        <source>Release wave %1 now, whatever the advance rule says?</source>
        <translation>立即放行第 %1 批，不论推进规则如何？</translation>
    </message>
    <message numerus="yes">
        <source>It holds %n device(s).</source>
        <translation>
            <numerusform>该批包含 %n 台设备。</numerusform>
        </translation>
    </message>
    <message>
        <source>Advance to the next wave</source>
        <translation>推进到下一批</translation>
    </message>
    <message>
        <source>%1: done</source>
        <translation>%1：已完成</translation>
    </message>
    <message>
        <source>CSV (*.csv)</source>
        <translation>CSV (*.csv)</translation>
    </message>
    <message>
        <source>Export results</source>
        <translation>导出结果</translation>
    </message>
    <message>
        <source>Exporting…</source>
        <translation>正在导出…</translation>
    </message>
    <message>
        <source>Saved %1</source>
        <translation>已保存 %1</translation>
    </message>
    <message>
        <source>Export failed: %1</source>
        <translation>导出失败：%1</translation>
    </message>
    <message>
        <source>%1 of %2 finished devices %3 (%4% ≥ %5%, after at least %6 finished)</source>
        <translation>%2 台已完成的设备中 %1 台%3（%4% ≥ %5%，已至少完成 %6 台）</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>OTA Desktop</source>
        <translation>OTA Desktop</translation>
    </message>
    <message>
        <source>Products &amp;&amp; devices</source>
        <translation>产品和设备</translation>
    </message>
    <message>
        <source>Firmware</source>
        <translation>固件</translation>
    </message>
    <message>
        <source>Tasks</source>
        <translation>任务</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <source>&amp;Settings…</source>
        <translation>设置(&amp;S)…</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <source>&amp;OTA</source>
        <translation>&amp;OTA</translation>
    </message>
    <message>
        <source>New &amp;product…</source>
        <translation>新建产品(&amp;P)…</translation>
    </message>
    <message>
        <source>&amp;Import devices…</source>
        <translation>导入设备(&amp;I)…</translation>
    </message>
    <message>
        <source>New &amp;firmware…</source>
        <translation>新建固件(&amp;F)…</translation>
    </message>
    <message>
        <source>New &amp;task…</source>
        <translation>新建任务(&amp;T)…</translation>
    </message>
    <message>
        <source>&amp;Refresh</source>
        <translation>刷新(&amp;R)</translation>
    </message>
    <message>
        <source>Restart &amp;backend</source>
        <translation>重启后端(&amp;B)</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>视图(&amp;V)</translation>
    </message>
    <message>
        <source>Close live view</source>
        <translation>关闭实时视图</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <source>&amp;Connection…</source>
        <translation>连接信息(&amp;C)…</translation>
    </message>
    <message>
        <source>&amp;About OTA Desktop</source>
        <translation>关于 OTA Desktop(&amp;A)</translation>
    </message>
    <message>
        <source>Restart backend</source>
        <translation>重启后端</translation>
    </message>
    <message>
        <source>Backend: starting…</source>
        <translation>后端：正在启动…</translation>
    </message>
    <message>
        <source>Backend: ready at %1</source>
        <translation>后端：已就绪 %1</translation>
    </message>
    <message>
        <source>Backend: not running</source>
        <translation>后端：未运行</translation>
    </message>
    <message>
        <source>Backend: connection lost</source>
        <translation>后端：连接已断开</translation>
    </message>
    <message>
        <source>Backend: stopped</source>
        <translation>后端：已停止</translation>
    </message>
    <message>
        <source>Backend</source>
        <translation>后端</translation>
    </message>
    <message>
        <source>The backend is not available.</source>
        <translation>后端不可用。</translation>
    </message>
    <message>
        <source>The connection to the backend was lost.</source>
        <translation>与后端的连接已断开。</translation>
    </message>
    <message>
        <source>Settings…</source>
        <translation>设置…</translation>
    </message>
    <message>
        <source>Live updates: on</source>
        <translation>实时更新：已开启</translation>
    </message>
    <message>
        <source>Live updates: connecting…</source>
        <translation>实时更新：正在连接…</translation>
    </message>
    <message>
        <source>Live updates: reconnecting…</source>
        <translation>实时更新：正在重连…</translation>
    </message>
    <message>
        <source>Task %1</source>
        <translation>任务 %1</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>语言</translation>
    </message>
    <message>
        <source>The new language is used after OTA Desktop restarts.</source>
        <translation>新语言将在 OTA Desktop 重新启动后生效。</translation>
    </message>
    <message>
        <source>About OTA Desktop</source>
        <translation>关于 OTA Desktop</translation>
    </message>
    <message>
        <source>&lt;b&gt;OTA Desktop&lt;/b&gt; %1&lt;p&gt;Firmware packages, upgrade tasks and live device status for iThings-compatible IoT fleets.&lt;/p&gt;&lt;p&gt;%2&lt;/p&gt;</source>
        <translation>&lt;b&gt;OTA Desktop&lt;/b&gt; %1&lt;p&gt;面向 iThings 兼容物联网设备群的固件包、升级任务与实时设备状态。&lt;/p&gt;&lt;p&gt;%2&lt;/p&gt;</translation>
    </message>
    <message>
        <source>Secrets are kept for this session only (no OS keyring): they are forgotten when OTA Desktop quits.</source>
        <translation>密钥仅在本次会话中保存（没有系统密钥环）：OTA Desktop 退出后即被遗忘。</translation>
    </message>
    <message>
        <source>Secrets are kept in the OS keyring: %1.</source>
        <translation>密钥保存在系统密钥环中：%1。</translation>
    </message>
    <message>
        <source>No keyring is available: secrets cannot be kept.</source>
        <translation>没有可用的密钥环：无法保存密钥。</translation>
    </message>
    <message>
        <source>Ask about the &amp;keyring again at the next start</source>
        <translation>下次启动时重新询问密钥环(&amp;K)</translation>
    </message>
    <message>
        <source>At the next start OTA Desktop asks again where to keep secrets.</source>
        <translation>下次启动时 OTA Desktop 将重新询问密钥的保存方式。</translation>
    </message>
    <message>
        <source>Last error:</source>
        <translation>最后的错误：</translation>
    </message>
    <message>
        <source>Backend log (last lines):</source>
        <translation>后端日志（最后几行）：</translation>
    </message>
    <message>
        <source>Restart now? Open forms are closed; the backend restarts with the app.</source>
        <translation>现在重新启动吗？打开的表单将被关闭；后端随应用一起重新启动。</translation>
    </message>
    <message>
        <source>Restart now</source>
        <translation>立即重新启动</translation>
    </message>
    <message>
        <source>Later</source>
        <translation>稍后</translation>
    </message>
    <message>
        <source>&amp;Export release capsule…</source>
        <translation>导出发布胶囊(&amp;E)…</translation>
    </message>
    <message>
        <source>&amp;Import release capsule…</source>
        <translation>导入发布胶囊(&amp;I)…</translation>
    </message>
    <message>
        <source>Task &amp;drafts…</source>
        <translation>任务草稿(&amp;D)…</translation>
    </message>
    <message>
        <source>Export e&amp;vidence…</source>
        <translation>导出升级凭证(&amp;V)…</translation>
    </message>
    <message>
        <source>Import evi&amp;dence…</source>
        <translation>导入升级凭证(&amp;D)…</translation>
    </message>
    <message>
        <source>&amp;Release evidence…</source>
        <translation>发布凭证(&amp;R)…</translation>
    </message>
    <message>
        <source>&amp;Trusted publishers…</source>
        <translation>受信任的发布者(&amp;T)…</translation>
    </message>
    <message>
        <source>Task %1 started.</source>
        <translation>任务 %1 已启动。</translation>
    </message>
</context>
<context>
    <name>NewFirmwareDialog</name>
    <message>
        <source>Empty files (0 bytes) cannot be firmware; remove them: %1</source>
        <translation>空文件（0 字节）不能作为固件，请移除：%1</translation>
    </message>
    <message>
        <source>file not found: %1</source>
        <translation>找不到文件：%1</translation>
    </message>
    <message>
        <source>cannot read the file: %1</source>
        <translation>无法读取文件：%1</translation>
    </message>
    <message>
        <source>Checking files…</source>
        <translation>正在检查文件…</translation>
    </message>
    <message>
        <source>Checking the version…</source>
        <translation>正在检查版本…</translation>
    </message>
    <message>
        <source>Version %1 already exists for this product: firmware “%2” (ID %3, created %4).</source>
        <translation>此产品已有版本 %1：固件“%2”（ID %3，创建于 %4）。</translation>
    </message>
    <message>
        <source>New firmware</source>
        <translation>新建固件</translation>
    </message>
    <message>
        <source>Whole package</source>
        <translation>整包</translation>
    </message>
    <message>
        <source>Differential package</source>
        <translation>差分包</translation>
    </message>
    <message>
        <source>free text handed to devices, e.g. JSON</source>
        <translation>传给设备的任意文本，例如 JSON</translation>
    </message>
    <message>
        <source>&amp;Add files…</source>
        <translation>添加文件(&amp;A)…</translation>
    </message>
    <message>
        <source>&amp;Remove</source>
        <translation>移除(&amp;R)</translation>
    </message>
    <message>
        <source>or drop files here</source>
        <translation>或将文件拖放到此处</translation>
    </message>
    <message>
        <source>&amp;Product:</source>
        <translation>产品(&amp;P)：</translation>
    </message>
    <message>
        <source>&amp;Name:</source>
        <translation>名称(&amp;N)：</translation>
    </message>
    <message>
        <source>&amp;Version:</source>
        <translation>版本(&amp;V)：</translation>
    </message>
    <message>
        <source>Package &amp;type:</source>
        <translation>升级包类型(&amp;T)：</translation>
    </message>
    <message>
        <source>&amp;Digest:</source>
        <translation>摘要算法(&amp;D)：</translation>
    </message>
    <message>
        <source>D&amp;escription:</source>
        <translation>描述(&amp;E)：</translation>
    </message>
    <message>
        <source>E&amp;xtra data:</source>
        <translation>扩展数据(&amp;X)：</translation>
    </message>
    <message>
        <source>&amp;Files:</source>
        <translation>文件(&amp;F)：</translation>
    </message>
    <message>
        <source>Overall:</source>
        <translation>总进度：</translation>
    </message>
    <message>
        <source>&amp;Upload and create</source>
        <translation>上传并创建(&amp;U)</translation>
    </message>
    <message>
        <source>Add firmware files</source>
        <translation>添加固件文件</translation>
    </message>
    <message>
        <source>Choose a product (create one on the Products page first).</source>
        <translation>请选择产品（可先在“产品”页面创建）。</translation>
    </message>
    <message>
        <source>Enter a name.</source>
        <translation>请输入名称。</translation>
    </message>
    <message>
        <source>Enter a version.</source>
        <translation>请输入版本。</translation>
    </message>
    <message>
        <source>Use letters, digits and . _ + - only (at most 64).</source>
        <translation>只能使用字母、数字和 . _ + -（最多 64 个字符）。</translation>
    </message>
    <message>
        <source>Add at least one file.</source>
        <translation>请至少添加一个文件。</translation>
    </message>
    <message>
        <source>At most %1 files per firmware.</source>
        <translation>每个固件最多 %1 个文件。</translation>
    </message>
    <message>
        <source>File names must be unique: %1</source>
        <translation>文件名不能重复：%1</translation>
    </message>
    <message>
        <source>Rename these files (they need an extension and no , ? * | { } $ &apos; &quot; `): %1</source>
        <translation>请重命名这些文件（需要扩展名，且不能含 , ? * | { } $ &apos; &quot; `）：%1</translation>
    </message>
    <message>
        <source>Cancel upload</source>
        <translation>取消上传</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Uploading…</source>
        <translation>正在上传…</translation>
    </message>
    <message>
        <source>Creating firmware…</source>
        <translation>正在创建固件…</translation>
    </message>
    <message>
        <source>Checking digests…</source>
        <translation>正在校验摘要…</translation>
    </message>
    <message>
        <source>Done</source>
        <translation>完成</translation>
    </message>
    <message>
        <source>Digest mismatch</source>
        <translation>摘要不一致</translation>
    </message>
    <message>
        <source>The backend stored different digests than computed here for: %1. Check the files and upload them again.</source>
        <translation>后端保存的摘要与本地计算的不一致：%1。请检查文件后重新上传。</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>失败</translation>
    </message>
    <message>
        <source>Cancelled</source>
        <translation>已取消</translation>
    </message>
    <message>
        <source>required, e.g. 1.0.0</source>
        <translation>必填，例如 1.0.0</translation>
    </message>
</context>
<context>
    <name>NewTaskDialog</name>
    <message>
        <source>New upgrade task</source>
        <translation>新建升级任务</translation>
    </message>
    <message>
        <source>Choose a firmware…</source>
        <translation>选择固件…</translation>
    </message>
    <message>
        <source>&amp;All devices of the product</source>
        <translation>产品的全部设备(&amp;A)</translation>
    </message>
    <message>
        <source>&amp;Chosen devices</source>
        <translation>指定设备(&amp;C)</translation>
    </message>
    <message>
        <source>&amp;Static (devices fixed now)</source>
        <translation>静态升级(&amp;S)（设备范围现在确定）</translation>
    </message>
    <message>
        <source>D&amp;ynamic (keeps adding matching devices)</source>
        <translation>动态升级(&amp;Y)（持续加入符合条件的设备）</translation>
    </message>
    <message>
        <source>other version</source>
        <translation>其他版本</translation>
    </message>
    <message>
        <source>Add</source>
        <translation>添加</translation>
    </message>
    <message>
        <source> min</source>
        <translation> 分钟</translation>
    </message>
    <message>
        <source> / min</source>
        <translation> 次/分钟</translation>
    </message>
    <message>
        <source>unlimited</source>
        <translation>不限</translation>
    </message>
    <message>
        <source>Start at:</source>
        <translation>开始时间：</translation>
    </message>
    <message>
        <source>Take over devices that another running task is upgrading</source>
        <translation>接管正在被其他任务升级的设备</translation>
    </message>
    <message>
        <source>&amp;Firmware:</source>
        <translation>固件(&amp;F)：</translation>
    </message>
    <message>
        <source>Devices:</source>
        <translation>设备：</translation>
    </message>
    <message>
        <source>Upgrade:</source>
        <translation>升级方式：</translation>
    </message>
    <message>
        <source>Device list:</source>
        <translation>设备列表：</translation>
    </message>
    <message>
        <source>Source versions:</source>
        <translation>待升级版本：</translation>
    </message>
    <message>
        <source>Retries:</source>
        <translation>重试次数：</translation>
    </message>
    <message>
        <source>Retry interval:</source>
        <translation>重试间隔：</translation>
    </message>
    <message>
        <source>Timeout:</source>
        <translation>超时：</translation>
    </message>
    <message>
        <source>Max pushes:</source>
        <translation>推送速率：</translation>
    </message>
    <message>
        <source>Gray release:</source>
        <translation>灰度比例：</translation>
    </message>
    <message>
        <source>Create &amp;task</source>
        <translation>创建任务(&amp;T)</translation>
    </message>
    <message>
        <source>Devices already on the firmware&apos;s version are skipped.</source>
        <translation>已是该固件版本的设备会被跳过。</translation>
    </message>
    <message>
        <source>Choose the firmware to roll out.</source>
        <translation>请选择要发布的固件。</translation>
    </message>
    <message>
        <source>Check at least one device (or choose all devices).</source>
        <translation>请至少勾选一台设备（或选择全部设备）。</translation>
    </message>
    <message>
        <source>A dynamic task covers all devices; it cannot be targeted.</source>
        <translation>动态任务面向全部设备，不能定向升级。</translation>
    </message>
    <message>
        <source>A dynamic task needs the source versions to upgrade from.</source>
        <translation>动态任务需要指定待升级的版本。</translation>
    </message>
    <message>
        <source>The firmware&apos;s own version %1 cannot be a source version.</source>
        <translation>固件自身的版本 %1 不能作为待升级版本。</translation>
    </message>
    <message>
        <source>The start time is in the past.</source>
        <translation>开始时间已过。</translation>
    </message>
    <message>
        <source>Pushing and retries</source>
        <translation>推送与重试</translation>
    </message>
    <message>
        <source>Preview</source>
        <translation>预览</translation>
    </message>
    <message>
        <source>&amp;Preview</source>
        <translation>预览(&amp;P)</translation>
    </message>
    <message>
        <source>Ask the backend which devices this task would take now</source>
        <translation>询问后端此任务现在会包含哪些设备</translation>
    </message>
    <message>
        <source>No preview until the rollout settings marked in red are corrected.</source>
        <translation>请先更正红色标出的发布设置，然后才能预览。</translation>
    </message>
    <message>
        <source>No preview: %1</source>
        <translation>无法预览：%1</translation>
    </message>
    <message>
        <source>Previewing…</source>
        <translation>正在预览…</translation>
    </message>
    <message>
        <source>No preview until the fields marked in red are corrected.</source>
        <translation>请先更正红色标出的字段，然后才能预览。</translation>
    </message>
    <message>
        <source>Choose a firmware to see which devices the task would take.</source>
        <translation>选择固件以查看任务会包含哪些设备。</translation>
    </message>
    <message numerus="yes">
        <source>&lt;b&gt;%n device(s)&lt;/b&gt; would be upgraded</source>
        <translation>
            <numerusform>将升级 &lt;b&gt;%n 台设备&lt;/b&gt;</numerusform>
        </translation>
    </message>
    <message>
        <source>(%1 of %2 devices considered get a record, %3 of them offline now).</source>
        <translation>（%2 台候选设备中 %1 台获得升级记录，其中 %3 台当前离线）。</translation>
    </message>
    <message>
        <source>Waves: %1</source>
        <translation>批次：%1</translation>
    </message>
    <message>
        <source>%1 already on the target version</source>
        <translation>%1 台已是目标版本</translation>
    </message>
    <message>
        <source>%1 on a source version not chosen</source>
        <translation>%1 台的版本未被选为源版本</translation>
    </message>
    <message>
        <source>%1 outside the gray share</source>
        <translation>%1 台不在灰度范围内</translation>
    </message>
    <message>
        <source>%1 busy in another task</source>
        <translation>%1 台正在其他任务中</translation>
    </message>
    <message>
        <source>%1 on a newer version</source>
        <translation>%1 台版本更新</translation>
    </message>
    <message>
        <source>Left out: %1</source>
        <translation>未包含：%1</translation>
    </message>
    <message numerus="yes">
        <source>Takes %n device(s) over from other tasks.</source>
        <translation>
            <numerusform>从其他任务接管 %n 台设备。</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>ProductDialog</name>
    <message>
        <source>New product</source>
        <extracomment>MQTT topic levels and the username &quot;{productID}&amp;{deviceName}&quot; forbid these</extracomment>
        <translation>新建产品</translation>
    </message>
    <message>
        <source>generated when empty</source>
        <translation>留空则自动生成</translation>
    </message>
    <message>
        <source>&amp;Name:</source>
        <translation>名称(&amp;N)：</translation>
    </message>
    <message>
        <source>Product &amp;ID:</source>
        <translation>产品 ID(&amp;I)：</translation>
    </message>
    <message>
        <source>&amp;Description:</source>
        <translation>描述(&amp;D)：</translation>
    </message>
    <message>
        <source>Enter a name.</source>
        <translation>请输入名称。</translation>
    </message>
    <message>
        <source>Use letters, digits, &apos;-&apos; and &apos;_&apos; only (at most 64).</source>
        <translation>只能使用字母、数字、&apos;-&apos; 和 &apos;_&apos;（最多 64 个字符）。</translation>
    </message>
</context>
<context>
    <name>ProductsModel</name>
    <message>
        <source>Product ID</source>
        <translation>产品 ID</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <source>Description</source>
        <translation>描述</translation>
    </message>
</context>
<context>
    <name>ProductsPage</name>
    <message>
        <source>History…</source>
        <translation>升级历史…</translation>
    </message>
    <message>
        <source>The device&apos;s upgrades across every task (double-click a device)</source>
        <translation>该设备在所有任务中的升级记录（也可双击设备）</translation>
    </message>
    <message numerus="yes">
        <source>Delete %n device(s)? Their unfinished upgrades are cancelled and they can no longer connect.</source>
        <translation>
            <numerusform>删除 %n 台设备？其未完成的升级将被取消，设备将无法再连接。</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n device(s) imported; %1 already existed and were left as they are.</source>
        <translation>
            <numerusform>已导入 %n 台设备；%1 台已存在，保持不变。</numerusform>
        </translation>
    </message>
    <message>
        <source>New product…</source>
        <translation>新建产品…</translation>
    </message>
    <message>
        <source>Delete product</source>
        <translation>删除产品</translation>
    </message>
    <message>
        <source>New device…</source>
        <translation>新建设备…</translation>
    </message>
    <message>
        <source>Import CSV…</source>
        <translation>导入 CSV…</translation>
    </message>
    <message>
        <source>Export provisioning…</source>
        <translation>导出设备配置…</translation>
    </message>
    <message>
        <source>Write every device of the product with its secret, broker host:port and HTTP URL to a CSV or JSON file</source>
        <translation>将产品的每台设备及其密钥、代理主机:端口和 HTTP 地址写入 CSV 或 JSON 文件</translation>
    </message>
    <message>
        <source>Show secret…</source>
        <translation>查看密钥…</translation>
    </message>
    <message>
        <source>Delete devices</source>
        <translation>删除设备</translation>
    </message>
    <message>
        <source>Search devices…</source>
        <translation>搜索设备…</translation>
    </message>
    <message>
        <source>&lt;b&gt;Products&lt;/b&gt;</source>
        <translation>&lt;b&gt;产品&lt;/b&gt;</translation>
    </message>
    <message>
        <source>&lt;b&gt;Devices of %1&lt;/b&gt;</source>
        <translation>&lt;b&gt;%1 的设备&lt;/b&gt;</translation>
    </message>
    <message>
        <source>&lt;b&gt;Devices&lt;/b&gt;</source>
        <translation>&lt;b&gt;设备&lt;/b&gt;</translation>
    </message>
    <message>
        <source>&lt;b&gt;Devices of %1&lt;/b&gt; (%2)</source>
        <translation>&lt;b&gt;%1 的设备&lt;/b&gt;（%2）</translation>
    </message>
    <message>
        <source>Products</source>
        <extracomment>a provisioning export finished: (path, number of devices) or failed: (&quot;&quot;, -1) where devices reach the backend (the main window sets the connection&apos;s)</extracomment>
        <translation>产品</translation>
    </message>
    <message>
        <source>Delete product %1 with all its devices?</source>
        <translation>删除产品 %1 及其全部设备？</translation>
    </message>
    <message>
        <source>Devices imported</source>
        <translation>设备已导入</translation>
    </message>
    <message numerus="yes">
        <source>%n device(s) created. Copy their names and secrets (CSV) to the clipboard?</source>
        <translation>
            <numerusform>已创建 %n 台设备。将其名称和密钥（CSV）复制到剪贴板？</numerusform>
        </translation>
    </message>
    <message>
        <source>CSV (*.csv)</source>
        <translation>CSV (*.csv)</translation>
    </message>
    <message>
        <source>JSON (*.json)</source>
        <translation>JSON (*.json)</translation>
    </message>
    <message>
        <source>Export provisioning</source>
        <translation>导出设备配置</translation>
    </message>
    <message numerus="yes">
        <source>%n device(s) exported to %1</source>
        <translation>
            <numerusform>已导出 %n 台设备到 %1</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Delete %n device(s)?</source>
        <translation>
            <numerusform>删除 %n 台设备？</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>RecordsModel</name>
    <message>
        <source>Device</source>
        <extracomment>longest stretch of work one flush slice does before letting the event loop turn</extracomment>
        <translation>设备</translation>
    </message>
    <message>
        <source>Current version</source>
        <translation>当前版本</translation>
    </message>
    <message>
        <source>Target version</source>
        <translation>目标版本</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Progress</source>
        <translation>进度</translation>
    </message>
    <message>
        <source>Description</source>
        <translation>描述</translation>
    </message>
    <message>
        <source>Retries</source>
        <translation>重试次数</translation>
    </message>
    <message>
        <source>Last update</source>
        <translation>最后更新</translation>
    </message>
    <message>
        <source>Wave</source>
        <translation>批次</translation>
    </message>
</context>
<context>
    <name>RolloutEditor</name>
    <message>
        <source>% of devices</source>
        <translation>% 的设备</translation>
    </message>
    <message>
        <source>devices</source>
        <translation>台设备</translation>
    </message>
    <message>
        <source>Remove this wave</source>
        <translation>删除此批次</translation>
    </message>
    <message>
        <source>failed or timed out</source>
        <translation>失败或超时</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>失败</translation>
    </message>
    <message>
        <source>timed out</source>
        <translation>超时</translation>
    </message>
    <message>
        <source>after</source>
        <translation>且已完成</translation>
    </message>
    <message>
        <source> finished</source>
        <translation> 台</translation>
    </message>
    <message>
        <source>Remove this rule</source>
        <translation>删除此规则</translation>
    </message>
    <message>
        <source>Staged rollout</source>
        <translation>分批发布</translation>
    </message>
    <message>
        <source>Roll out in &amp;waves, with automatic abort and a maintenance window</source>
        <translation>分批发布(&amp;W)，可自动中止并设维护窗口</translation>
    </message>
    <message>
        <source>&amp;Safe rollout preset</source>
        <translation>安全发布预设(&amp;S)</translation>
    </message>
    <message>
        <source>Waves of 1 %, 10 % and the rest; abort when 10 % of at least 20 finished devices failed or timed out</source>
        <translation>按 1%、10% 和其余设备分批；至少 20 台完成后，失败或超时达到 10% 即中止</translation>
    </message>
    <message>
        <source>1 % → 10 % → the rest; abort at ≥ 10 % failures after 20 finished</source>
        <translation>1% → 10% → 其余；完成 20 台后失败 ≥ 10% 即中止</translation>
    </message>
    <message>
        <source>Add wave</source>
        <translation>添加批次</translation>
    </message>
    <message>
        <source>The last wave takes every device left.</source>
        <translation>最后一批包含所有剩余设备。</translation>
    </message>
    <message>
        <source> % succeeded</source>
        <translation> % 成功</translation>
    </message>
    <message>
        <source> min</source>
        <translation> 分钟</translation>
    </message>
    <message>
        <source>Only by hand (the live view&apos;s Advance button)</source>
        <translation>仅手动推进（实时视图中的“推进”按钮）</translation>
    </message>
    <message>
        <source>Next wave at:</source>
        <translation>进入下一批：</translation>
    </message>
    <message>
        <source>Soak time:</source>
        <translation>观察时间：</translation>
    </message>
    <message>
        <source>Waves</source>
        <translation>批次</translation>
    </message>
    <message>
        <source>Add abort rule</source>
        <translation>添加中止规则</translation>
    </message>
    <message>
        <source>No automatic abort.</source>
        <translation>不自动中止。</translation>
    </message>
    <message>
        <source>Push only in a daily window:</source>
        <translation>仅在每日时间窗口内推送：</translation>
    </message>
    <message>
        <source>An IANA time zone name, e.g. Asia/Shanghai</source>
        <translation>IANA 时区名称，例如 Asia/Shanghai</translation>
    </message>
    <message>
        <source>from</source>
        <translation>从</translation>
    </message>
    <message>
        <source>for</source>
        <translation>持续</translation>
    </message>
    <message>
        <source>Abort the task when</source>
        <translation>中止任务的条件</translation>
    </message>
    <message>
        <source>Maintenance window</source>
        <translation>维护窗口</translation>
    </message>
    <message>
        <source>Wave %1</source>
        <translation>第 %1 批</translation>
    </message>
    <message numerus="yes">
        <source>→ %n device(s)</source>
        <translation>
            <numerusform>→ %n 台设备</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>SecretDialog</name>
    <message>
        <source>Secret of %1</source>
        <translation>%1 的密钥</translation>
    </message>
    <message>
        <source>&amp;Show</source>
        <translation>显示(&amp;S)</translation>
    </message>
    <message>
        <source>&amp;Copy</source>
        <translation>复制(&amp;C)</translation>
    </message>
    <message>
        <source>MQTT username:</source>
        <translation>MQTT 用户名：</translation>
    </message>
    <message>
        <source>Secret:</source>
        <translation>密钥：</translation>
    </message>
    <message>
        <source>&amp;Hide</source>
        <translation>隐藏(&amp;H)</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <source>&amp;Embedded backend on this computer</source>
        <translation>本机内置后端(&amp;E)</translation>
    </message>
    <message>
        <source>&amp;Remote backend</source>
        <translation>远程后端(&amp;R)</translation>
    </message>
    <message>
        <source>Browse…</source>
        <translation>浏览…</translation>
    </message>
    <message>
        <source>automatic</source>
        <translation>自动</translation>
    </message>
    <message>
        <source>Broker and file server listen on the &amp;LAN</source>
        <translation>MQTT 代理和文件服务在局域网监听(&amp;L)</translation>
    </message>
    <message>
        <source>Devices must authenticate (device secret)</source>
        <translation>设备必须认证（设备密钥）</translation>
    </message>
    <message>
        <source>Required whenever the services are reachable from the LAN; anonymous devices are refused.</source>
        <translation>服务可从局域网访问时必须开启；匿名设备会被拒绝。</translation>
    </message>
    <message>
        <source>Backend</source>
        <translation>后端</translation>
    </message>
    <message>
        <source>Remote &amp;URL:</source>
        <translation>远程地址(&amp;U)：</translation>
    </message>
    <message>
        <source>Remote &amp;token:</source>
        <translation>远程令牌(&amp;T)：</translation>
    </message>
    <message>
        <source>&amp;Data directory:</source>
        <translation>数据目录(&amp;D)：</translation>
    </message>
    <message>
        <source>&amp;HTTP port:</source>
        <translation>&amp;HTTP 端口：</translation>
    </message>
    <message>
        <source>&amp;MQTT port:</source>
        <translation>&amp;MQTT 端口：</translation>
    </message>
    <message>
        <source>empty: embedded Mosquitto; e.g. mqtt://user@host:1883</source>
        <translation>留空：内置 Mosquitto；例如 mqtt://user@host:1883</translation>
    </message>
    <message>
        <source>empty: embedded object store; e.g. http://minio:9000</source>
        <translation>留空：内置对象存储；例如 http://minio:9000</translation>
    </message>
    <message>
        <source>empty: SQLite in the data directory; e.g. postgresql://ota@db/ota</source>
        <translation>留空：数据目录中的 SQLite；例如 postgresql://ota@db/ota</translation>
    </message>
    <message>
        <source>External services</source>
        <translation>外部服务</translation>
    </message>
    <message>
        <source>MQTT broker URL:</source>
        <translation>MQTT 代理地址：</translation>
    </message>
    <message>
        <source>Broker password:</source>
        <translation>代理密码：</translation>
    </message>
    <message>
        <source>Object store URL:</source>
        <translation>对象存储地址：</translation>
    </message>
    <message>
        <source>Access key:</source>
        <translation>Access Key：</translation>
    </message>
    <message>
        <source>Secret key:</source>
        <translation>Secret Key：</translation>
    </message>
    <message>
        <source>Database URL:</source>
        <translation>数据库地址：</translation>
    </message>
    <message>
        <source>Database password:</source>
        <translation>数据库密码：</translation>
    </message>
    <message>
        <source>Keep secrets for this session only</source>
        <translation>仅在本次会话中保存密钥</translation>
    </message>
    <message>
        <source>System language</source>
        <translation>跟随系统</translation>
    </message>
    <message>
        <source>Secrets and language</source>
        <translation>密钥和语言</translation>
    </message>
    <message>
        <source>Secrets:</source>
        <translation>密钥：</translation>
    </message>
    <message>
        <source>&amp;Language:</source>
        <translation>语言(&amp;L)：</translation>
    </message>
    <message>
        <source>kept in memory for this session only (no keyring available: %1)</source>
        <translation>仅在本次会话的内存中保存（没有可用的密钥环：%1）</translation>
    </message>
    <message>
        <source>stored in the system keyring: %1</source>
        <translation>保存在系统密钥环中：%1</translation>
    </message>
    <message>
        <source>&lt;b&gt;No keyring available&lt;/b&gt; (%1): secrets cannot be saved. Keep them for this session only, or start a keyring service.</source>
        <translation>&lt;b&gt;没有可用的密钥环&lt;/b&gt;（%1）：无法保存密钥。可仅在本次会话中保存，或启动密钥环服务。</translation>
    </message>
    <message>
        <source>Data directory</source>
        <translation>数据目录</translation>
    </message>
    <message>
        <source>Enter a URL like %1://host:port</source>
        <translation>请输入形如 %1://host:port 的地址</translation>
    </message>
    <message>
        <source>Enter the backend&apos;s URL.</source>
        <translation>请输入后端地址。</translation>
    </message>
    <message>
        <source>Enter the backend&apos;s admin token.</source>
        <translation>请输入后端的管理令牌。</translation>
    </message>
    <message>
        <source>Choose a data directory.</source>
        <translation>请选择数据目录。</translation>
    </message>
    <message>
        <source>Use 0 (automatic) or a port from 1024 to 65535.</source>
        <translation>请使用 0（自动）或 1024 到 65535 之间的端口。</translation>
    </message>
    <message>
        <source>The HTTP and MQTT ports must differ.</source>
        <translation>HTTP 端口和 MQTT 端口不能相同。</translation>
    </message>
    <message>
        <source>An external object store needs an access key and a secret key.</source>
        <translation>外部对象存储需要 Access Key 和 Secret Key。</translation>
    </message>
    <message>
        <source>No keyring is available: choose &quot;Keep secrets for this session only&quot; to use the secrets you entered.</source>
        <translation>没有可用的密钥环：请选择“仅在本次会话中保存密钥”以使用您输入的密钥。</translation>
    </message>
    <message>
        <source>The keyring refused to store the secrets.</source>
        <translation>密钥环拒绝保存密钥。</translation>
    </message>
    <message>
        <source>The new language is used after OTA Desktop restarts.</source>
        <translation>新语言将在 OTA Desktop 重新启动后生效。</translation>
    </message>
</context>
<context>
    <name>Status</name>
    <message>
        <source>Waiting</source>
        <translation>等待中</translation>
    </message>
    <message>
        <source>Status %1</source>
        <translation>状态 %1</translation>
    </message>
</context>
<context>
    <name>TableActions</name>
    <message>
        <source>&amp;Copy rows</source>
        <translation>复制行(&amp;C)</translation>
    </message>
    <message>
        <source>Delete…</source>
        <translation>删除…</translation>
    </message>
</context>
<context>
    <name>TasksModel</name>
    <message>
        <source>Progress</source>
        <translation>进度</translation>
    </message>
    <message>
        <source>targeted</source>
        <translation>定向升级</translation>
    </message>
    <message>
        <source>all devices</source>
        <translation>全部设备</translation>
    </message>
    <message>
        <source>dynamic</source>
        <translation>动态</translation>
    </message>
    <message>
        <source>static</source>
        <translation>静态</translation>
    </message>
    <message>
        <source>Task</source>
        <translation>任务</translation>
    </message>
    <message>
        <source>Firmware version</source>
        <translation>固件版本</translation>
    </message>
    <message>
        <source>Devices</source>
        <translation>设备</translation>
    </message>
    <message>
        <source>Upgrade</source>
        <translation>升级方式</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Created</source>
        <translation>创建时间</translation>
    </message>
    <message>
        <source>Task UID</source>
        <translation>任务 UID</translation>
    </message>
</context>
<context>
    <name>TasksPage</name>
    <message>
        <source>Search tasks…</source>
        <translation>搜索任务…</translation>
    </message>
    <message>
        <source>Cancel selected</source>
        <translation>取消所选</translation>
    </message>
    <message>
        <source>Cancel tasks</source>
        <translation>取消任务</translation>
    </message>
    <message numerus="yes">
        <source>Cancel %n task(s) (%1)? Their devices not yet upgraded are cancelled; this cannot be undone.</source>
        <translation>
            <numerusform>取消 %n 个任务（%1）？其中尚未升级的设备将被取消，且无法撤销。</numerusform>
        </translation>
    </message>
    <message>
        <source>New task…</source>
        <translation>新建任务…</translation>
    </message>
    <message>
        <source>Open live view</source>
        <translation>打开实时视图</translation>
    </message>
    <message>
        <source>Cancel task</source>
        <translation>取消任务</translation>
    </message>
    <message>
        <source>Firmware:</source>
        <translation>固件：</translation>
    </message>
    <message>
        <source>All firmware</source>
        <translation>全部固件</translation>
    </message>
    <message>
        <source>Task %1 devices — %2</source>
        <translation>任务 %1 的设备 — %2</translation>
    </message>
    <message>
        <source>none yet</source>
        <translation>暂无</translation>
    </message>
    <message>
        <source>success rate %1%</source>
        <translation>成功率 %1%</translation>
    </message>
    <message>
        <source>Tasks</source>
        <translation>任务</translation>
    </message>
    <message>
        <source>Cancel task %1? Devices not yet upgraded are cancelled.</source>
        <translation>取消任务 %1？尚未升级的设备将被取消。</translation>
    </message>
</context>
<context>
    <name>UploadFilesModel</name>
    <message>
        <source>waiting</source>
        <translation>等待中</translation>
    </message>
    <message>
        <source>uploading</source>
        <translation>上传中</translation>
    </message>
    <message>
        <source>uploaded</source>
        <translation>已上传</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>失败</translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation>已取消</translation>
    </message>
    <message>
        <source>File</source>
        <translation>文件</translation>
    </message>
    <message>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <source>Progress</source>
        <translation>进度</translation>
    </message>
    <message>
        <source>State</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Local digest</source>
        <translation>本地摘要</translation>
    </message>
</context>
<context>
    <name>WaveTimeline</name>
    <message numerus="yes">
        <source>Wave %1 · %n device(s)</source>
        <translation>
            <numerusform>第 %1 批 · %n 台设备</numerusform>
        </translation>
    </message>
    <message>
        <source>Wave %1: %2 of %3 finished</source>
        <translation>第 %1 批：%3 台中已完成 %2 台</translation>
    </message>
    <message>
        <source>%1 succeeded, %2 failed, %3 timed out, %4 cancelled, %5 active</source>
        <translation>成功 %1，失败 %2，超时 %3，取消 %4，进行中 %5</translation>
    </message>
    <message>
        <source>not released yet</source>
        <translation>尚未放行</translation>
    </message>
    <message>
        <source>the current wave</source>
        <translation>当前批次</translation>
    </message>
</context>
<context>
    <name>main</name>
    <message>
        <source>Unexpected error</source>
        <translation>意外错误</translation>
    </message>
    <message>
        <source>Remember my choice: keep secrets for the session only at every start without asking</source>
        <translation>记住我的选择：以后每次启动都不再询问，密钥仅在会话中保存</translation>
    </message>
    <message>
        <source>To keep secrets between starts, give this computer a keyring, then restart OTA Desktop:

- Desktop: install and start GNOME Keyring (package gnome-keyring) or KWallet (package kwalletmanager), then log in again.

- Station without a desktop keyring: install a file-backed keyring into the Python environment of OTA Desktop:
    pip install keyrings.alt
  and choose it in ~/.config/python_keyring/keyringrc.cfg:
    [backend]
    default-keyring=keyrings.alt.file.EncryptedKeyring
  EncryptedKeyring asks for its master password in the terminal OTA Desktop was started from. PlaintextKeyring stores secrets unencrypted in a file: choose it only knowingly.

"python -m keyring diagnose" shows which keyring is in use.</source>
        <translation>要在多次启动之间保留密钥，请为这台计算机配置密钥环，然后重新启动 OTA Desktop：

- 桌面环境：安装并启动 GNOME Keyring（软件包 gnome-keyring）或 KWallet（软件包 kwalletmanager），然后重新登录。

- 没有桌面密钥环的工作站：在 OTA Desktop 所用的 Python 环境中安装基于文件的密钥环：
    pip install keyrings.alt
  并在 ~/.config/python_keyring/keyringrc.cfg 中选择它：
    [backend]
    default-keyring=keyrings.alt.file.EncryptedKeyring
  EncryptedKeyring 会在启动 OTA Desktop 的终端中询问其主密码。PlaintextKeyring 会把密钥以未加密形式存放在文件中：请仅在知情的情况下选择它。

运行 "python -m keyring diagnose" 可查看正在使用的密钥环。</translation>
    </message>
</context>
<context>
    <name>ota_protocol</name>
    <message>
        <source>Not started</source>
        <translation>未升级</translation>
    </message>
    <message>
        <source>Upgrading</source>
        <translation>升级中</translation>
    </message>
    <message>
        <source>Done</source>
        <translation>已完成</translation>
    </message>
    <message>
        <source>Cancelled</source>
        <translation>已取消</translation>
    </message>
    <message>
        <source>Awaiting confirmation</source>
        <translation>待确认</translation>
    </message>
    <message>
        <source>Queued</source>
        <translation>待推送</translation>
    </message>
    <message>
        <source>Queued (device offline)</source>
        <translation>待推送（设备离线）</translation>
    </message>
    <message>
        <source>Queued (retry)</source>
        <translation>待推送（等待重试）</translation>
    </message>
    <message>
        <source>Pushed</source>
        <translation>已推送</translation>
    </message>
    <message>
        <source>Succeeded</source>
        <translation>升级成功</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>升级失败</translation>
    </message>
    <message>
        <source>Upgrade failed</source>
        <translation>升级失败</translation>
    </message>
    <message>
        <source>Download failed</source>
        <translation>下载失败</translation>
    </message>
    <message>
        <source>Verification failed</source>
        <translation>校验失败</translation>
    </message>
    <message>
        <source>Flashing failed</source>
        <translation>烧录失败</translation>
    </message>
    <message>
        <source>All devices</source>
        <translation>全部设备</translation>
    </message>
    <message>
        <source>Selected devices</source>
        <translation>指定设备</translation>
    </message>
    <message>
        <source>Static</source>
        <translation>静态升级</translation>
    </message>
    <message>
        <source>Dynamic</source>
        <translation>动态升级</translation>
    </message>
    <message>
        <source>Whole package</source>
        <translation>整包</translation>
    </message>
    <message>
        <source>Difference package</source>
        <translation>差分包</translation>
    </message>
    <message>
        <source>Error</source>
        <translation>错误</translation>
    </message>
    <message>
        <source>The token has expired</source>
        <translation>令牌已过期</translation>
    </message>
    <message>
        <source>The token is not valid yet</source>
        <translation>令牌尚未生效</translation>
    </message>
    <message>
        <source>The token is malformed</source>
        <translation>令牌格式错误</translation>
    </message>
    <message>
        <source>The token is not valid</source>
        <translation>令牌无效</translation>
    </message>
    <message>
        <source>Invalid parameter</source>
        <translation>参数错误</translation>
    </message>
    <message>
        <source>System error</source>
        <translation>系统错误</translation>
    </message>
    <message>
        <source>Database error</source>
        <translation>数据库错误</translation>
    </message>
    <message>
        <source>Not found</source>
        <translation>未找到</translation>
    </message>
    <message>
        <source>Already exists</source>
        <translation>已存在</translation>
    </message>
    <message>
        <source>Not permitted</source>
        <translation>不允许此操作</translation>
    </message>
    <message>
        <source>Timed out</source>
        <translation>超时</translation>
    </message>
    <message>
        <source>Retry is not allowed</source>
        <translation>不允许重试</translation>
    </message>
    <message>
        <source>Already finished</source>
        <translation>已结束</translation>
    </message>
    <message>
        <source>Aborted</source>
        <translation>已中止</translation>
    </message>
</context>
<context>
    <name>TaskProgressModel</name>
    <message>
        <source>no devices</source>
        <translation>无设备</translation>
    </message>
    <message>
        <source>%1 succeeded · %2 failed · %3 pending</source>
        <translation>成功 %1 · 失败 %2 · 待处理 %3</translation>
    </message>
</context>
<context>
    <name>DeviceHistoryModel</name>
    <message>
        <source>operator</source>
        <translation>操作员</translation>
    </message>
    <message>
        <source>device</source>
        <translation>设备</translation>
    </message>
    <message>
        <source>timer</source>
        <translation>定时器</translation>
    </message>
    <message>
        <source>system</source>
        <translation>系统</translation>
    </message>
    <message>
        <source>Time</source>
        <translation>时间</translation>
    </message>
    <message>
        <source>Task</source>
        <translation>任务</translation>
    </message>
    <message>
        <source>Target version</source>
        <translation>目标版本</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Step</source>
        <translation>步骤</translation>
    </message>
    <message>
        <source>Description</source>
        <translation>描述</translation>
    </message>
    <message>
        <source>Retries</source>
        <translation>重试次数</translation>
    </message>
    <message>
        <source>Actor</source>
        <translation>执行者</translation>
    </message>
</context>
<context>
    <name>DeleteProductDialog</name>
    <message>
        <source>Delete product</source>
        <translation>删除产品</translation>
    </message>
    <message>
        <source>Delete product %1 with its %2 and %3?</source>
        <translation>删除产品 %1 及其 %2和 %3？</translation>
    </message>
    <message numerus="yes">
        <source>%n device(s)</source>
        <translation>
            <numerusform>%n 台设备</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n firmware version(s)</source>
        <translation>
            <numerusform>%n 个固件版本</numerusform>
        </translation>
    </message>
    <message>
        <source>Their upgrade tasks, records and firmware files are deleted too, and the devices can no longer connect. This cannot be undone.</source>
        <translation>其升级任务、升级记录和固件文件也会被删除，设备将无法再连接。此操作无法撤销。</translation>
    </message>
    <message>
        <source>&amp;Delete product</source>
        <translation>删除产品(&amp;D)</translation>
    </message>
    <message>
        <source>Type the product ID &lt;b&gt;%1&lt;/b&gt; to confirm:</source>
        <translation>请输入产品 ID &lt;b&gt;%1&lt;/b&gt; 以确认：</translation>
    </message>
</context>
<context>
    <name>DeviceHistoryDialog</name>
    <message>
        <source>OTA history of %1</source>
        <translation>%1 的升级历史</translation>
    </message>
    <message>
        <source>online</source>
        <translation>在线</translation>
    </message>
    <message>
        <source>offline</source>
        <translation>离线</translation>
    </message>
    <message>
        <source>Device &lt;b&gt;%1&lt;/b&gt; of product %2 · version %3 · %4</source>
        <translation>设备 &lt;b&gt;%1&lt;/b&gt;（产品 %2）· 版本 %3 · %4</translation>
    </message>
    <message>
        <source>‹ &amp;Newer</source>
        <translation>‹ 较新(&amp;N)</translation>
    </message>
    <message>
        <source>&amp;Older ›</source>
        <translation>较早(&amp;O) ›</translation>
    </message>
    <message>
        <source>Loading…</source>
        <translation>正在加载…</translation>
    </message>
    <message>
        <source>No OTA upgrades recorded for this device yet.</source>
        <translation>此设备还没有升级记录。</translation>
    </message>
    <message numerus="yes">
        <source>Page %1 of %2 · %n change(s)</source>
        <translation>
            <numerusform>第 %1 / %2 页 · 共 %n 条变更</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>AddPublisherDialog</name>
    <message>
        <source>Add a trusted publisher</source>
        <translation>添加受信任的发布者</translation>
    </message>
    <message>
        <source>e.g. Engineering, Berlin</source>
        <translation>例如：研发部（柏林）</translation>
    </message>
    <message>
        <source>&amp;Open .pem file…</source>
        <translation>打开 .pem 文件(&amp;O)…</translation>
    </message>
    <message>
        <source>Compare this fingerprint with the one the publisher reads out from their Trusted publishers window before adding it.</source>
        <translation>添加前，请将此指纹与发布者从其“受信任的发布者”窗口中念出的指纹逐段核对。</translation>
    </message>
    <message>
        <source>&amp;Name:</source>
        <translation>名称(&amp;N)：</translation>
    </message>
    <message>
        <source>&amp;Public key:</source>
        <translation>公钥(&amp;P)：</translation>
    </message>
    <message>
        <source>Fingerprint:</source>
        <translation>指纹：</translation>
    </message>
    <message>
        <source>&amp;Add</source>
        <translation>添加(&amp;A)</translation>
    </message>
    <message>
        <source>Open a public key</source>
        <translation>打开公钥</translation>
    </message>
    <message>
        <source>Public keys (*.pem);;All files (*)</source>
        <translation>公钥 (*.pem);;所有文件 (*)</translation>
    </message>
    <message>
        <source>(paste the key or open its file)</source>
        <translation>（粘贴公钥或打开其文件）</translation>
    </message>
</context>
<context>
    <name>CapsuleTexts</name>
    <message>
        <source>This is not a public key in PEM form (-----BEGIN PUBLIC KEY----- …).</source>
        <translation>这不是 PEM 格式的公钥（-----BEGIN PUBLIC KEY----- …）。</translation>
    </message>
    <message>
        <source>This is not an Ed25519 key: capsules are signed with Ed25519 keys.</source>
        <translation>这不是 Ed25519 密钥：胶囊使用 Ed25519 密钥签名。</translation>
    </message>
    <message>
        <source>no task template</source>
        <translation>无任务模板</translation>
    </message>
    <message>
        <source>named devices: %1</source>
        <translation>指定设备：%1 台</translation>
    </message>
    <message>
        <source>all devices of the product</source>
        <translation>产品的全部设备</translation>
    </message>
    <message>
        <source>retries: %1</source>
        <translation>重试 %1 次</translation>
    </message>
    <message>
        <source>waves %1</source>
        <translation>分批 %1</translation>
    </message>
    <message>
        <source>stop at %1 % failures after %2 finished</source>
        <translation>完成 %2 台后失败达 %1 % 即中止</translation>
    </message>
    <message>
        <source>; </source>
        <translation>；</translation>
    </message>
    <message>
        <source>Kept for this session only (no OS keyring): the fingerprint changes when OTA Desktop restarts, and stations must then trust the new one.</source>
        <translation>仅在本次会话中保存（无系统密钥环）：OTA Desktop 重启后指纹会改变，各站点须重新信任新指纹。</translation>
    </message>
    <message>
        <source>Kept in the OS keyring (%1): the fingerprint stays the same when OTA Desktop restarts.</source>
        <translation>保存在系统密钥环（%1）中：OTA Desktop 重启后指纹保持不变。</translation>
    </message>
    <message>
        <source>Given to the backend by whoever started it (OTA_SIGNING_KEY).</source>
        <translation>由启动后端的一方提供（OTA_SIGNING_KEY）。</translation>
    </message>
    <message>
        <source>Kept in the backend&apos;s OS keyring: the fingerprint stays the same across restarts.</source>
        <translation>保存在后端的系统密钥环中：重启后指纹保持不变。</translation>
    </message>
    <message>
        <source>Kept in the key file named in the backend&apos;s settings.</source>
        <translation>保存在后端设置中指定的密钥文件里。</translation>
    </message>
    <message>
        <source>Session only: the fingerprint changes when the backend restarts, and stations must then trust the new one.</source>
        <translation>仅限本次会话：后端重启后指纹会改变，各站点须重新信任新指纹。</translation>
    </message>
    <message>
        <source>Cannot use the file: %1</source>
        <translation>无法使用该文件：%1</translation>
    </message>
    <message>
        <source>&amp;Browse…</source>
        <translation>浏览(&amp;B)…</translation>
    </message>
</context>
<context>
    <name>DraftsModel</name>
    <message>
        <source>Draft</source>
        <translation>草稿</translation>
    </message>
    <message>
        <source>Product</source>
        <translation>产品</translation>
    </message>
    <message>
        <source>Version</source>
        <translation>版本</translation>
    </message>
    <message>
        <source>Publisher</source>
        <translation>发布者</translation>
    </message>
    <message>
        <source>Task template</source>
        <translation>任务模板</translation>
    </message>
    <message>
        <source>Imported</source>
        <translation>导入时间</translation>
    </message>
</context>
<context>
    <name>EvidenceDevicesModel</name>
    <message>
        <source>Device</source>
        <translation>设备</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Version before</source>
        <translation>升级前版本</translation>
    </message>
    <message>
        <source>Version after</source>
        <translation>升级后版本</translation>
    </message>
    <message>
        <source>Step</source>
        <translation>步骤</translation>
    </message>
    <message>
        <source>Retries</source>
        <translation>重试次数</translation>
    </message>
    <message>
        <source>Updated</source>
        <translation>更新时间</translation>
    </message>
    <message>
        <source>Description</source>
        <translation>说明</translation>
    </message>
</context>
<context>
    <name>ExportCapsuleDialog</name>
    <message>
        <source>Export release capsule</source>
        <translation>导出发布胶囊</translation>
    </message>
    <message>
        <source>Release capsules (*.otacap)</source>
        <translation>发布胶囊 (*.otacap)</translation>
    </message>
    <message>
        <source> days</source>
        <translation> 天</translation>
    </message>
    <message>
        <source>Stations refuse the capsule after that.</source>
        <translation>超过期限后，站点将拒绝此胶囊。</translation>
    </message>
    <message>
        <source>Include a task &amp;template</source>
        <translation>包含任务模板(&amp;T)</translation>
    </message>
    <message>
        <source>&amp;All devices of the product</source>
        <translation>产品的全部设备(&amp;A)</translation>
    </message>
    <message>
        <source>&amp;Named devices:</source>
        <translation>指定设备(&amp;N)：</translation>
    </message>
    <message>
        <source>device names, one per line or separated by commas</source>
        <translation>设备名称，每行一个或用逗号分隔</translation>
    </message>
    <message>
        <source>&amp;Safe rollout</source>
        <translation>安全发布(&amp;S)</translation>
    </message>
    <message>
        <source>Waves of 1 %, 10 %, then the rest; stop when 10 % of at least 20 finished devices failed.</source>
        <translation>按 1 %、10 %、其余设备分批；至少 20 台完成后失败达 10 % 即中止。</translation>
    </message>
    <message>
        <source>Devices:</source>
        <translation>设备：</translation>
    </message>
    <message>
        <source>Retries:</source>
        <translation>重试次数：</translation>
    </message>
    <message>
        <source>The station gets the template as a task draft: a technician there starts it by hand.</source>
        <translation>站点收到的模板是任务草稿：需由当地技术人员手动启动。</translation>
    </message>
    <message>
        <source>&amp;Product:</source>
        <translation>产品(&amp;P)：</translation>
    </message>
    <message>
        <source>&amp;Firmware:</source>
        <translation>固件(&amp;F)：</translation>
    </message>
    <message>
        <source>&amp;Valid for:</source>
        <translation>有效期(&amp;V)：</translation>
    </message>
    <message>
        <source>There is no firmware to export yet.</source>
        <translation>还没有可导出的固件。</translation>
    </message>
    <message>
        <source>Choose the firmware to export.</source>
        <translation>请选择要导出的固件。</translation>
    </message>
    <message>
        <source>Name at least one device (or choose all devices).</source>
        <translation>请至少填写一个设备名称（或选择全部设备）。</translation>
    </message>
</context>
<context>
    <name>ExportEvidenceDialog</name>
    <message>
        <source>Export evidence</source>
        <translation>导出升级凭证</translation>
    </message>
    <message>
        <source>Evidence (*.otaevidence)</source>
        <translation>升级凭证 (*.otaevidence)</translation>
    </message>
    <message>
        <source>The file holds every device&apos;s result of the task, signed by this workstation. Import it where the release came from.</source>
        <translation>该文件包含此任务中每台设备的结果，并由本工作站签名。请在发布来源处导入。</translation>
    </message>
    <message>
        <source>&amp;Firmware:</source>
        <translation>固件(&amp;F)：</translation>
    </message>
    <message>
        <source>&amp;Task:</source>
        <translation>任务(&amp;T)：</translation>
    </message>
    <message>
        <source>There is no task to export yet.</source>
        <translation>还没有可导出的任务。</translation>
    </message>
    <message>
        <source>Task %1 (%2)</source>
        <translation>任务 %1（%2）</translation>
    </message>
    <message>
        <source>Choose the task whose results to export.</source>
        <translation>请选择要导出结果的任务。</translation>
    </message>
</context>
<context>
    <name>ImportCapsuleDialog</name>
    <message>
        <source>Import release capsule</source>
        <translation>导入发布胶囊</translation>
    </message>
    <message>
        <source>Release capsules (*.otacap)</source>
        <translation>发布胶囊 (*.otacap)</translation>
    </message>
    <message>
        <source>Choose a capsule: what it holds and who signed it is shown here before anything is imported.</source>
        <translation>请选择胶囊：在导入任何内容之前，这里会显示其内容和签名者。</translation>
    </message>
    <message>
        <source>&amp;Trusted publishers…</source>
        <translation>受信任的发布者(&amp;T)…</translation>
    </message>
    <message>
        <source>&amp;Start the task now…</source>
        <translation>立即启动任务(&amp;S)…</translation>
    </message>
    <message>
        <source>&amp;Import</source>
        <translation>导入(&amp;I)</translation>
    </message>
    <message>
        <source>Checking…</source>
        <translation>正在校验…</translation>
    </message>
    <message>
        <source>Checked: the signature and every file are intact.</source>
        <translation>已校验：签名和所有文件均完好。</translation>
    </message>
    <message>
        <source>The capsule is signed by a publisher this installation does not trust. Its fingerprint:</source>
        <translation>此胶囊的签名者不是本系统信任的发布者。其指纹：</translation>
    </message>
    <message>
        <source>Compare it with the fingerprint the publisher reads out; if they match, add the publisher&apos;s public key in Trusted publishers and choose the capsule again.</source>
        <translation>请与发布者念出的指纹逐段核对；一致时，在“受信任的发布者”中添加其公钥，然后重新选择此胶囊。</translation>
    </message>
    <message>
        <source>already on this installation</source>
        <translation>本系统中已存在</translation>
    </message>
    <message>
        <source>new: it is created by the import</source>
        <translation>新产品：导入时创建</translation>
    </message>
    <message>
        <source>differential update</source>
        <translation>差分包</translation>
    </message>
    <message>
        <source>whole image</source>
        <translation>整包</translation>
    </message>
    <message>
        <source>Signed by</source>
        <translation>签名者</translation>
    </message>
    <message>
        <source>Product</source>
        <translation>产品</translation>
    </message>
    <message>
        <source>Firmware</source>
        <translation>固件</translation>
    </message>
    <message>
        <source>Files</source>
        <translation>文件</translation>
    </message>
    <message>
        <source>Task template</source>
        <translation>任务模板</translation>
    </message>
    <message>
        <source>Imported as a task draft: nothing is pushed to devices until it is started.</source>
        <translation>以任务草稿导入：启动之前不会向设备推送任何内容。</translation>
    </message>
    <message>
        <source>Capsule &amp;file:</source>
        <translation>胶囊文件(&amp;F)：</translation>
    </message>
    <message>
        <source>Created</source>
        <translation>创建时间</translation>
    </message>
    <message>
        <source>Valid until</source>
        <translation>有效期至</translation>
    </message>
    <message>
        <source>Importing…</source>
        <translation>正在导入…</translation>
    </message>
    <message>
        <source>Imported.</source>
        <translation>已导入。</translation>
    </message>
    <message>
        <source>Firmware %1 was created (firmware #%2) for product %3.</source>
        <translation>已为产品 %3 创建固件 %1（固件 #%2）。</translation>
    </message>
    <message>
        <source>The product was new and was created.</source>
        <translation>该产品原先不存在，已创建。</translation>
    </message>
    <message>
        <source>The task template is waiting as task draft #%1: start it now, or later from File › Task drafts…</source>
        <translation>任务模板已保存为任务草稿 #%1：可立即启动，或稍后在“文件 › 任务草稿…”中启动。</translation>
    </message>
    <message>
        <source>Start the task</source>
        <translation>启动任务</translation>
    </message>
    <message>
        <source>Start the task of draft #%1 now? Devices begin to receive firmware %2 (%3).</source>
        <translation>现在启动草稿 #%1 的任务？设备将开始接收固件 %2（%3）。</translation>
    </message>
    <message>
        <source>Task %1 started.</source>
        <translation>任务 %1 已启动。</translation>
    </message>
    <message>
        <source>The task did not start: %1</source>
        <translation>任务未能启动：%1</translation>
    </message>
</context>
<context>
    <name>ImportEvidenceDialog</name>
    <message>
        <source>Import evidence</source>
        <translation>导入升级凭证</translation>
    </message>
    <message>
        <source>Evidence (*.otaevidence)</source>
        <translation>升级凭证 (*.otaevidence)</translation>
    </message>
    <message>
        <source>Evidence is a station&apos;s results of a task, signed by that station. It is accepted from trusted publishers only.</source>
        <translation>升级凭证是站点某个任务的结果，由该站点签名。仅接受受信任发布者的凭证。</translation>
    </message>
    <message>
        <source>&amp;Trusted publishers…</source>
        <translation>受信任的发布者(&amp;T)…</translation>
    </message>
    <message>
        <source>Release e&amp;vidence…</source>
        <translation>发布凭证(&amp;V)…</translation>
    </message>
    <message>
        <source>Evidence &amp;file:</source>
        <translation>凭证文件(&amp;F)：</translation>
    </message>
    <message>
        <source>Importing…</source>
        <translation>正在导入…</translation>
    </message>
    <message>
        <source>Imported.</source>
        <translation>已导入。</translation>
    </message>
    <message numerus="yes">
        <source>Evidence from station %1: task %3 of %4 version %5, %n device(s). The station&apos;s key:</source>
        <translation>
            <numerusform>来自站点 %1 的凭证：%4 版本 %5 的任务 %3，%n 台设备。该站点的密钥：</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>PublishersModel</name>
    <message>
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <source>Fingerprint</source>
        <translation>指纹</translation>
    </message>
    <message>
        <source>Added</source>
        <translation>添加时间</translation>
    </message>
</context>
<context>
    <name>ReleaseEvidenceDialog</name>
    <message>
        <source>Release evidence</source>
        <translation>发布凭证</translation>
    </message>
    <message>
        <source>Search product, version, station…</source>
        <translation>搜索产品、版本、站点…</translation>
    </message>
    <message>
        <source>Select a station to see its devices.</source>
        <translation>选择一个站点以查看其设备。</translation>
    </message>
    <message>
        <source>&amp;Import evidence…</source>
        <translation>导入升级凭证(&amp;I)…</translation>
    </message>
    <message>
        <source>&amp;Refresh</source>
        <translation>刷新(&amp;R)</translation>
    </message>
    <message numerus="yes">
        <source>%n release(s), </source>
        <translation>
            <numerusform>%n 个发布，</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n station report(s)</source>
        <translation>
            <numerusform>%n 份站点报告</numerusform>
        </translation>
    </message>
    <message>
        <source>No evidence yet: import the evidence files that stations send back.</source>
        <translation>暂无凭证：请导入站点发回的凭证文件。</translation>
    </message>
    <message>
        <source>Devices of %1, task %2: loading…</source>
        <translation>%1 的设备，任务 %2：正在加载…</translation>
    </message>
    <message>
        <source>Devices of %1, task %2:</source>
        <translation>%1 的设备，任务 %2：</translation>
    </message>
</context>
<context>
    <name>StationsModel</name>
    <message>
        <source>Product</source>
        <translation>产品</translation>
    </message>
    <message>
        <source>Version</source>
        <translation>版本</translation>
    </message>
    <message>
        <source>Station</source>
        <translation>站点</translation>
    </message>
    <message>
        <source>Fingerprint</source>
        <translation>指纹</translation>
    </message>
    <message>
        <source>Task</source>
        <translation>任务</translation>
    </message>
    <message>
        <source>Imported</source>
        <translation>导入时间</translation>
    </message>
    <message>
        <source>Devices</source>
        <translation>设备数</translation>
    </message>
    <message>
        <source>Succeeded</source>
        <translation>成功</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>失败</translation>
    </message>
    <message>
        <source>Other</source>
        <translation>其他</translation>
    </message>
</context>
<context>
    <name>TaskDraftsDialog</name>
    <message>
        <source>Task drafts</source>
        <translation>任务草稿</translation>
    </message>
    <message>
        <source>An imported capsule&apos;s task template waits here until a technician starts it: nothing is pushed to devices before that.</source>
        <translation>导入的胶囊中的任务模板在此等待技术人员启动：启动之前不会向设备推送任何内容。</translation>
    </message>
    <message>
        <source>&amp;Start…</source>
        <translation>启动(&amp;S)…</translation>
    </message>
    <message>
        <source>&amp;Delete…</source>
        <translation>删除(&amp;D)…</translation>
    </message>
    <message>
        <source>&amp;Refresh</source>
        <translation>刷新(&amp;R)</translation>
    </message>
    <message>
        <source>No task drafts: import a release capsule that carries a task template.</source>
        <translation>没有任务草稿：请导入带有任务模板的发布胶囊。</translation>
    </message>
    <message>
        <source>Start the task</source>
        <translation>启动任务</translation>
    </message>
    <message>
        <source>Start the task of draft #%1 now? Devices of %2 begin to receive version %3 (%4).</source>
        <translation>现在启动草稿 #%1 的任务？%2 的设备将开始接收版本 %3（%4）。</translation>
    </message>
    <message>
        <source>Task %1 started from draft #%2.</source>
        <translation>已从草稿 #%2 启动任务 %1。</translation>
    </message>
    <message>
        <source>The task did not start: %1</source>
        <translation>任务未能启动：%1</translation>
    </message>
    <message>
        <source>Delete the draft</source>
        <translation>删除草稿</translation>
    </message>
    <message>
        <source>Delete task draft #%1 (%2 version %3)? The firmware stays; a task can still be created by hand.</source>
        <translation>删除任务草稿 #%1（%2 版本 %3）？固件会保留，仍可手动创建任务。</translation>
    </message>
    <message>
        <source>Draft #%1 deleted.</source>
        <translation>草稿 #%1 已删除。</translation>
    </message>
    <message>
        <source>Not deleted: %1</source>
        <translation>未删除：%1</translation>
    </message>
</context>
<context>
    <name>TrustedPublishersDialog</name>
    <message>
        <source>Trusted publishers</source>
        <translation>受信任的发布者</translation>
    </message>
    <message>
        <source>loading…</source>
        <translation>正在加载…</translation>
    </message>
    <message>
        <source>&amp;Copy</source>
        <translation>复制(&amp;C)</translation>
    </message>
    <message>
        <source>&amp;Save public key…</source>
        <translation>保存公钥(&amp;S)…</translation>
    </message>
    <message>
        <source>This workstation</source>
        <translation>本工作站</translation>
    </message>
    <message>
        <source>Capsules and evidence exported here are signed with this key. Stations add it to their trusted publishers after comparing its fingerprint:</source>
        <translation>在此导出的胶囊和凭证都用这把密钥签名。各站点核对以下指纹后，将其加入受信任的发布者：</translation>
    </message>
    <message>
        <source>&amp;Add…</source>
        <translation>添加(&amp;A)…</translation>
    </message>
    <message>
        <source>&amp;Remove…</source>
        <translation>移除(&amp;R)…</translation>
    </message>
    <message>
        <source>This installation imports capsules and evidence signed by these keys only.</source>
        <translation>本系统只导入由这些密钥签名的胶囊和凭证。</translation>
    </message>
    <message>
        <source>Fingerprint copied.</source>
        <translation>指纹已复制。</translation>
    </message>
    <message>
        <source>Save public key</source>
        <translation>保存公钥</translation>
    </message>
    <message>
        <source>Public keys (*.pem)</source>
        <translation>公钥 (*.pem)</translation>
    </message>
    <message>
        <source>Public key saved to %1.</source>
        <translation>公钥已保存到 %1。</translation>
    </message>
    <message>
        <source>Not saved: %1</source>
        <translation>未保存：%1</translation>
    </message>
    <message>
        <source>No trusted publishers yet: add the public key of each workstation whose capsules or evidence this installation imports.</source>
        <translation>尚无受信任的发布者：请添加需要导入其胶囊或凭证的各工作站的公钥。</translation>
    </message>
    <message>
        <source>Added %1.</source>
        <translation>已添加 %1。</translation>
    </message>
    <message>
        <source>Remove the publisher</source>
        <translation>移除发布者</translation>
    </message>
    <message>
        <source>Remove %1 (%2) from the trusted publishers? Capsules and evidence signed by this key are then refused.</source>
        <translation>从受信任的发布者中移除 %1（%2）？此后由该密钥签名的胶囊和凭证将被拒绝。</translation>
    </message>
    <message>
        <source>Removed %1.</source>
        <translation>已移除 %1。</translation>
    </message>
    <message>
        <source>Not removed: %1</source>
        <translation>未移除：%1</translation>
    </message>
</context>
<context>
    <name>_OpenDialog</name>
    <message>
        <source>Stopped: nothing was imported.</source>
        <translation>已停止：未导入任何内容。</translation>
    </message>
    <message>
        <source>Refused: %1</source>
        <translation>已拒绝：%1</translation>
    </message>
    <message>
        <source>&amp;Stop</source>
        <translation>停止(&amp;S)</translation>
    </message>
    <message>
        <source>&amp;Close</source>
        <translation>关闭(&amp;C)</translation>
    </message>
</context>
<context>
    <name>_SaveDialog</name>
    <message>
        <source>&amp;Export</source>
        <translation>导出(&amp;E)</translation>
    </message>
    <message>
        <source>&amp;Output file:</source>
        <translation>输出文件(&amp;O)：</translation>
    </message>
    <message>
        <source>Choose where to save the file.</source>
        <translation>请选择文件的保存位置。</translation>
    </message>
    <message>
        <source>The folder %1 does not exist.</source>
        <translation>文件夹 %1 不存在。</translation>
    </message>
    <message>
        <source>&amp;Cancel export</source>
        <translation>取消导出(&amp;C)</translation>
    </message>
    <message>
        <source>&amp;Close</source>
        <translation>关闭(&amp;C)</translation>
    </message>
    <message>
        <source>Saved %1 (%2).</source>
        <translation>已保存 %1（%2）。</translation>
    </message>
    <message>
        <source>Export cancelled: nothing was saved.</source>
        <translation>导出已取消：未保存任何文件。</translation>
    </message>
    <message>
        <source>Cannot write the file: %1</source>
        <translation>无法写入文件：%1</translation>
    </message>
    <message>
        <source>Export failed: %1</source>
        <translation>导出失败：%1</translation>
    </message>
</context>
</TS>
