<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>AccountsDialog</name>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="107" />
        <source>Off</source>
        <translation>已关闭</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="111" />
        <source>On</source>
        <translation>已开启</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="189" />
        <source>Delete account</source>
        <translation>删除账号</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="190" />
        <source>Delete “{name}” and all its stored messages and replies? This cannot be undone.</source>
        <translation>删除“{name}”及其保存的全部消息和回复？此操作无法撤销。</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="192" />
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="199" />
        <source>Pause monitoring</source>
        <translation>暂停监控</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="199" />
        <source>Resume monitoring</source>
        <translation>恢复监控</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="202" />
        <source>Accounts</source>
        <translation>账号</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="204" />
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="204" />
        <source>Platform</source>
        <translation>平台</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="204" />
        <source>Login</source>
        <translation>登录</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="204" />
        <source>On the platform</source>
        <translation>平台身份</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="205" />
        <source>Monitoring</source>
        <translation>监控</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="206" />
        <source>Last error</source>
        <translation>最近错误</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="206" />
        <source>Last crawl</source>
        <translation>最近抓取</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="206" />
        <source>ID</source>
        <translation>ID</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="208" />
        <source>Add account…</source>
        <translation>添加账号…</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="209" />
        <source>Log in again</source>
        <translation>重新登录</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="210" />
        <source>Log out</source>
        <translation>退出登录</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="211" />
        <source>Delete…</source>
        <translation>删除…</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="212" />
        <source>Close</source>
        <translation>关闭</translation>
    </message>
</context>
<context>
    <name>ActivityList</name>
    <message numerus="yes">
        <location filename="../../app/ui/components/activity_list.py" line="82" />
        <source>%n new ↑</source>
        <translation>
            <numerusform>%n 条新动态 ↑</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>AddAccountDialog</name>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="254" />
        <source>No platform is available.</source>
        <translation>没有可用的平台。</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="257" />
        <source>Enter a name for the account.</source>
        <translation>请输入账号名称。</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="278" />
        <source>Add account</source>
        <translation>添加账号</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="279" />
        <source>Platform</source>
        <translation>平台</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="279" />
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="279" />
        <source>Proxy</source>
        <translation>代理</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="280" />
        <source>How operators will see this account</source>
        <translation>客服看到的账号名称</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/accounts.py" line="281" />
        <source>No proxy (direct)</source>
        <translation>不使用代理（直连）</translation>
    </message>
</context>
<context>
    <name>BubbleDelegate</name>
    <message>
        <location filename="../../app/ui/views/bubble_delegate.py" line="212" />
        <source>You</source>
        <extracomment>str: the outbox reply id whose Retry link was clicked str: the outbox reply id whose Cancel link was clicked</extracomment>
        <translation>我</translation>
    </message>
    <message>
        <location filename="../../app/ui/views/bubble_delegate.py" line="221" />
        <source>Retry</source>
        <translation>重试</translation>
    </message>
    <message>
        <location filename="../../app/ui/views/bubble_delegate.py" line="223" />
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
</context>
<context>
    <name>ChannelDelegate</name>
    <message>
        <location filename="../../app/ui/views/channel_delegate.py" line="21" />
        <source>{state}: {problem}</source>
        <translation>{state}：{problem}</translation>
    </message>
    <message>
        <location filename="../../app/ui/views/channel_delegate.py" line="24" />
        <source>No messages yet</source>
        <translation>暂无消息</translation>
    </message>
</context>
<context>
    <name>ChatPane</name>
    <message>
        <location filename="../../app/ui/components/chat_pane.py" line="398" />
        <source>Choose a conversation or a work on the left.</source>
        <translation>请在左侧选择一个会话或作品。</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/chat_pane.py" line="364" />
        <source>Reply</source>
        <extracomment>TopicRef: the topic shown changed (None: nothing shown) str: the operator asked to log the shown topic's account in again</extracomment>
        <translation>回复</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/chat_pane.py" line="368" />
        <source>Copy text</source>
        <translation>复制文本</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/chat_pane.py" line="372" />
        <source>Mark unread</source>
        <translation>标为未读</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/chat_pane.py" line="377" />
        <source>Retry sending</source>
        <translation>重新发送</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/chat_pane.py" line="382" />
        <source>It is on the platform: mark sent</source>
        <translation>平台上已有：标为已发送</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/chat_pane.py" line="386" />
        <source>It is not on the platform: send again</source>
        <translation>平台上没有：重新发送</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/chat_pane.py" line="391" />
        <source>Cancel reply</source>
        <translation>取消回复</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/chat_pane.py" line="415" />
        <source>Direct messages</source>
        <translation>私信</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/chat_pane.py" line="415" />
        <source>Comments</source>
        <translation>评论</translation>
    </message>
    <message numerus="yes">
        <location filename="../../app/ui/components/chat_pane.py" line="416" />
        <source>%n message(s)</source>
        <translation>
            <numerusform>%n 条消息</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../../app/ui/components/chat_pane.py" line="446" />
        <source>as {0} · {1}</source>
        <translation>以 {0} · {1} 的身份回复</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/chat_pane.py" line="402" />
        <source>No topic open</source>
        <translation>未打开会话</translation>
    </message>
</context>
<context>
    <name>EngineDialog</name>
    <message>
        <location filename="../../app/ui/dialogs/base.py" line="36" />
        <source>Unexpected error ({kind})</source>
        <translation>意外错误（{kind}）</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/base.py" line="124" />
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
</context>
<context>
    <name>LoginDialog</name>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="231" />
        <source>Expires in {time}</source>
        <translation>{time} 后过期</translation>
    </message>
    <message numerus="yes">
        <location filename="../../app/ui/dialogs/login.py" line="233" />
        <source>refreshed %n time(s)</source>
        <translation>
            <numerusform>已刷新 %n 次</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="236" />
        <source>This account belongs to {0} on the platform; the phone confirmed another one. Log in as {0}, or add a new account for the other one.</source>
        <translation>此账号在平台上属于 {0}，但手机确认的是另一个账号。请以 {0} 登录，或为另一个账号添加新账号。</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="241" />
        <source>Sandbox: “Simulate scan” plays the phone</source>
        <translation>沙盒：“模拟扫码”代替手机扫码</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="249" />
        <source>Log in</source>
        <translation>登录</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="250" />
        <source>Log in to {account}</source>
        <translation>登录 {account}</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="252" />
        <location filename="../../app/ui/dialogs/login.py" line="253" />
        <source>Opening the login page…</source>
        <translation>正在打开登录页…</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="254" />
        <source>Scan the QR code with the platform's mobile app</source>
        <translation>请用平台手机 App 扫描二维码</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="255" />
        <source>The QR code was renewed: scan the new one</source>
        <translation>二维码已更新，请扫描新的二维码</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="256" />
        <source>Scanned: confirm the login on the phone</source>
        <translation>已扫码，请在手机上确认登录</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="257" />
        <source>The platform sent a verification code</source>
        <translation>平台已发送验证码</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="258" />
        <source>Verifying…</source>
        <translation>正在验证…</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="259" />
        <source>Logged in</source>
        <translation>已登录</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="260" />
        <source>Login failed</source>
        <translation>登录失败</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="261" />
        <source>The login timed out</source>
        <translation>登录超时</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="262" />
        <source>The QR code expired</source>
        <translation>二维码已过期</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="263" />
        <source>Login cancelled</source>
        <translation>登录已取消</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="269" />
        <source>Login refused: another platform account</source>
        <translation>登录被拒绝：不是同一个平台账号</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="276" />
        <source>The QR code appears here</source>
        <translation>二维码将显示在这里</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="280" />
        <source>Phone number</source>
        <translation>手机号</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="282" />
        <source>SMS code</source>
        <translation>短信验证码</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="283" />
        <source>Submit</source>
        <translation>提交</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="284" />
        <source>Simulate scan</source>
        <translation>模拟扫码</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="286" />
        <source>The sandbox has no phone app: this opens the page a phone would show after scanning</source>
        <translation>沙盒没有手机 App：这会打开手机扫码后显示的页面</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="287" />
        <source>Show browser</source>
        <translation>显示浏览器</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="289" />
        <source>Continue the login in a visible browser window</source>
        <translation>在可见的浏览器窗口中继续登录</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="290" />
        <source>No display available for a browser window</source>
        <translation>没有可用于显示浏览器窗口的屏幕</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="292" />
        <source>Try again</source>
        <translation>重试</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="293" />
        <source>Close</source>
        <translation>关闭</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="293" />
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="313" />
        <source>Keep the new account?</source>
        <translation>保留新账号？</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="314" />
        <source>“{account}” has not logged in. Keep it to log in later, or remove it?</source>
        <translation>“{account}”尚未登录。保留它以后再登录，还是删除它？</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="317" />
        <source>Remove account</source>
        <translation>删除账号</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/login.py" line="318" />
        <source>Keep account</source>
        <translation>保留账号</translation>
    </message>
</context>
<context>
    <name>LoginState</name>
    <message>
        <location filename="../../app/ui/views/painting.py" line="133" />
        <source>Logged in</source>
        <translation>已登录</translation>
    </message>
    <message>
        <location filename="../../app/ui/views/painting.py" line="134" />
        <source>Logging in…</source>
        <translation>登录中…</translation>
    </message>
    <message>
        <location filename="../../app/ui/views/painting.py" line="135" />
        <source>Session expired</source>
        <translation>登录已失效</translation>
    </message>
    <message>
        <location filename="../../app/ui/views/painting.py" line="136" />
        <source>Needs verification</source>
        <translation>需要验证</translation>
    </message>
    <message>
        <location filename="../../app/ui/views/painting.py" line="137" />
        <source>Blocked</source>
        <translation>已被限制</translation>
    </message>
    <message>
        <location filename="../../app/ui/views/painting.py" line="138" />
        <source>Not logged in</source>
        <translation>未登录</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../../app/ui/app.py" line="93" />
        <source>Stopping…</source>
        <translation>正在停止…</translation>
    </message>
    <message>
        <location filename="../../app/ui/app.py" line="123" />
        <source>Starting browsers…</source>
        <translation>正在启动浏览器…</translation>
    </message>
    <message>
        <location filename="../../app/ui/app.py" line="126" />
        <source>Ready</source>
        <translation>就绪</translation>
    </message>
    <message>
        <location filename="../../app/ui/app.py" line="138" />
        <location filename="../../app/ui/app.py" line="230" />
        <source>HisCRM Console cannot start</source>
        <translation>HisCRM 控制台无法启动</translation>
    </message>
    <message>
        <location filename="../../app/ui/app.py" line="212" />
        <source>HisCRM is already running on this data folder (process {pid}): use that window, or quit it before starting another.

Data folder: {folder}</source>
        <translation>HisCRM 已在此数据文件夹上运行（进程 {pid}）：请使用那个窗口，或先退出它再启动新的。

数据文件夹：{folder}</translation>
    </message>
    <message>
        <location filename="../../app/ui/app.py" line="217" />
        <source>HisCRM Console is already running</source>
        <translation>HisCRM Console 已在运行</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="84" />
        <source>Starting…</source>
        <extracomment>The operator asked to quit (menu, Ctrl+Q, closing the window).</extracomment>
        <translation>正在启动…</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="199" />
        <source>Nothing is unread.</source>
        <translation>没有未读消息。</translation>
    </message>
    <message numerus="yes">
        <location filename="../../app/ui/main_window.py" line="203" />
        <source>Mark %n unread message(s) read?</source>
        <translation>
            <numerusform>将 %n 条未读消息标为已读？</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <location filename="../../app/ui/main_window.py" line="205" />
        <source>In %n account(s): {0}</source>
        <translation>
            <numerusform>涉及 %n 个账号：{0}</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <location filename="../../app/ui/main_window.py" line="220" />
        <source>%n message(s) marked read</source>
        <translation>
            <numerusform>已将 %n 条消息标为已读</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="330" />
        <location filename="../../app/ui/main_window.py" line="461" />
        <source>HisCRM Console</source>
        <translation>HisCRM 控制台</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="331" />
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="332" />
        <source>&amp;Accounts</source>
        <translation>账号(&amp;A)</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="333" />
        <source>&amp;Messages</source>
        <translation>消息(&amp;M)</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="334" />
        <source>Main toolbar</source>
        <translation>主工具栏</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="335" />
        <source>Accounts…</source>
        <translation>账号管理…</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="336" />
        <source>Add account…</source>
        <translation>添加账号…</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="337" />
        <source>Workers…</source>
        <translation>工作进程…</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="338" />
        <source>Proxies…</source>
        <translation>代理…</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="339" />
        <source>Settings…</source>
        <translation>设置…</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="202" />
        <location filename="../../app/ui/main_window.py" line="208" />
        <location filename="../../app/ui/main_window.py" line="340" />
        <source>Mark all read</source>
        <translation>全部标为已读</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="341" />
        <source>Search…</source>
        <translation>搜索…</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="342" />
        <source>Previous topic</source>
        <translation>上一个会话</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="343" />
        <source>Next topic</source>
        <translation>下一个会话</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="344" />
        <source>Quit</source>
        <translation>退出</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="365" />
        <source>Finish the verification in a browser…</source>
        <translation>在浏览器中完成验证…</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="368" />
        <source>Log in…</source>
        <translation>登录…</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="369" />
        <source>Mark channel read</source>
        <translation>本账号全部已读</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="371" />
        <source>Check the platform's pages</source>
        <translation>检查平台页面</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="384" />
        <source>Checking the pages of {0}…</source>
        <translation>正在检查 {0} 的平台页面…</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="394" />
        <source>The check needs the account logged in: log in again first.</source>
        <translation>检查需要账号已登录：请先重新登录。</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="396" />
        <source>The check could not run now; try again in a minute.</source>
        <translation>现在无法检查，请稍后再试。</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="398" />
        <source>Every page matched what HisCRM expects.</source>
        <translation>所有页面都与 HisCRM 的预期一致。</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="400" />
        <source>Some pages no longer match what HisCRM expects.</source>
        <translation>有些页面已与 HisCRM 的预期不一致。</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="401" />
        <source>Pages of {0}</source>
        <translation>{0} 的平台页面</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="406" />
        <source>Report saved to {0}</source>
        <translation>报告已保存到 {0}</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="454" />
        <source>{account}: {problem}</source>
        <translation>{account}：{problem}</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="458" />
        <source>Unread: {0}</source>
        <translation>未读：{0}</translation>
    </message>
</context>
<context>
    <name>MonitorState</name>
    <message>
        <location filename="../../app/ui/dialogs/labels.py" line="16" />
        <source>Active</source>
        <translation>运行中</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/labels.py" line="17" />
        <source>Hibernating</source>
        <translation>休眠中</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/labels.py" line="18" />
        <source>Backing off</source>
        <translation>退避等待</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/labels.py" line="19" />
        <source>Stopped</source>
        <translation>已停止</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/labels.py" line="20" />
        <source>Crashed</source>
        <translation>已崩溃</translation>
    </message>
</context>
<context>
    <name>Platform</name>
    <message>
        <location filename="../../app/ui/views/painting.py" line="125" />
        <source>Sandbox</source>
        <translation>沙盒</translation>
    </message>
    <message>
        <location filename="../../app/ui/views/painting.py" line="126" />
        <source>Douyin</source>
        <translation>抖音</translation>
    </message>
</context>
<context>
    <name>ProxiesDialog</name>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="113" />
        <location filename="../../app/ui/dialogs/proxies.py" line="236" />
        <source>No proxy (direct)</source>
        <translation>不使用代理（直连）</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="133" />
        <source>Testing…</source>
        <translation>正在测试…</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="135" />
        <source>Not tested</source>
        <translation>未测试</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="137" />
        <source>Reachable ({ms} ms)</source>
        <translation>可连接（{ms} 毫秒）</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="139" />
        <source>Unreachable: {error}</source>
        <translation>无法连接：{error}</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="171" />
        <source>A proxy needs a name and a server (host:port).</source>
        <translation>代理需要名称和服务器地址（主机:端口）。</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="206" />
        <source>Delete proxy</source>
        <translation>删除代理</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="207" />
        <source>Delete the proxy “{name}”? Accounts using it will connect directly.</source>
        <translation>删除代理“{name}”？使用它的账号将改为直连。</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="208" />
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="219" />
        <source>Proxies</source>
        <translation>代理</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="221" />
        <location filename="../../app/ui/dialogs/proxies.py" line="227" />
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="221" />
        <location filename="../../app/ui/dialogs/proxies.py" line="227" />
        <source>Server</source>
        <translation>服务器</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="221" />
        <location filename="../../app/ui/dialogs/proxies.py" line="227" />
        <source>Protocol</source>
        <translation>协议</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="221" />
        <location filename="../../app/ui/dialogs/proxies.py" line="228" />
        <source>Username</source>
        <translation>用户名</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="221" />
        <source>Last test</source>
        <translation>最近测试</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="223" />
        <source>Test</source>
        <translation>测试</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="224" />
        <source>Delete…</source>
        <translation>删除…</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="225" />
        <source>Add a proxy</source>
        <translation>添加代理</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="226" />
        <source>Use a proxy for an account</source>
        <translation>为账号指定代理</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="228" />
        <source>Password</source>
        <translation>密码</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="229" />
        <source>host:port</source>
        <translation>主机:端口</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="230" />
        <source>optional</source>
        <translation>可选</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="231" />
        <source>optional, stored encrypted</source>
        <translation>可选，加密保存</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="232" />
        <source>Add</source>
        <translation>添加</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="233" />
        <source>Account</source>
        <translation>账号</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="233" />
        <source>Proxy</source>
        <translation>代理</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="234" />
        <source>Apply</source>
        <translation>应用</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/proxies.py" line="237" />
        <source>Close</source>
        <translation>关闭</translation>
    </message>
</context>
<context>
    <name>Reasons</name>
    <message>
        <location filename="../../app/ui/reasons.py" line="40" />
        <source>its account&apos;s worker is not connected to this server; it is sent once the worker is back</source>
        <translation>该账号的工作节点未连接到本服务器；节点恢复连接后即发送</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="43" />
        <source>it waits to be sent</source>
        <translation>等待发送</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="16" />
        <source>the account is not logged in: log in again, then retry</source>
        <translation>账号未登录：请重新登录后重试</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="18" />
        <source>the platform refused the reply (rate limit or risk control)</source>
        <translation>平台拒绝了这条回复（限流或风控）</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="20" />
        <source>the platform cannot take this reply (deleted comment or rejected text)</source>
        <translation>平台无法接收这条回复（评论已删除或内容被拒）</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="22" />
        <source>the platform could not be reached</source>
        <translation>无法连接平台</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="24" />
        <source>the platform did not answer in time</source>
        <translation>平台未及时响应</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="26" />
        <source>the platform did not confirm the reply</source>
        <translation>平台未确认这条回复</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="28" />
        <source>HisCRM stopped while sending; it checks the platform before resending</source>
        <translation>发送时 HisCRM 已停止；重发前会先在平台上核对</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="30" />
        <source>it may be on the platform already: check there, then confirm it or send it again</source>
        <translation>可能已发到平台上：请到平台上查看，然后确认已发送或再次发送</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="33" />
        <source>the platform reported an error</source>
        <translation>平台返回了错误</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="44" />
        <source>The reply is empty.</source>
        <translation>回复内容为空。</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="45" />
        <source>The reply is too long for the platform; shorten it.</source>
        <translation>回复太长，平台不接受；请缩短。</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="46" />
        <source>The reply contains an invisible or broken character (pasted?); remove it.</source>
        <translation>回复里有不可见或损坏的字符（可能是粘贴带来的），请删除。</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="48" />
        <source>This platform cannot send direct messages from here.</source>
        <translation>此平台不支持在这里发送私信。</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="49" />
        <source>This account was deleted meanwhile.</source>
        <translation>此账号已被删除。</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="50" />
        <source>This conversation or work is no longer there.</source>
        <translation>此会话或作品已不存在。</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="51" />
        <source>The message you answer is no longer there.</source>
        <translation>你回复的消息已不存在。</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="52" />
        <source>The reply you answer is not on the platform yet; wait until it is sent.</source>
        <translation>你回复的那条回复尚未发到平台，请等它发送成功。</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="55" />
        <source>The reply cannot be sent as it is.</source>
        <translation>这条回复无法按现在的内容发送。</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="57" />
        <source>That reply changed meanwhile; look at its state again.</source>
        <translation>这条回复的状态已经变化，请重新查看。</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="58" />
        <source>That did not work; the log says why.</source>
        <translation>操作未成功，原因见日志。</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="66" />
        <source>the platform could not be reached or was slow; it retries by itself</source>
        <translation>无法连接平台或平台响应太慢；会自动重试</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="67" />
        <source>the platform says the account goes too fast; it waits before polling again</source>
        <translation>平台提示账号操作太频繁；暂停一段时间后再轮询</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="68" />
        <source>the platform changed its page; HisCRM needs an update (see the log)</source>
        <translation>平台页面已改版；HisCRM 需要更新（详见日志）</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="69" />
        <source>the platform sent an answer HisCRM cannot read; it retries by itself</source>
        <translation>平台返回了 HisCRM 无法读取的内容；会自动重试</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="70" />
        <source>the platform refused a request; it retries by itself</source>
        <translation>平台拒绝了一次请求；会自动重试</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="71" />
        <source>the account's page crashed; it was reopened</source>
        <translation>账号页面崩溃，已重新打开</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="72" />
        <source>the login session could not be saved; log in again if it is lost</source>
        <translation>登录会话未能保存；如果登录丢失请重新登录</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="73" />
        <source>the login expired; log in again</source>
        <translation>登录已过期，请重新登录</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="74" />
        <source>the platform asks for a verification; log in again</source>
        <translation>平台要求验证，请重新登录</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="76" />
        <source>the login state could not be saved; it tries again</source>
        <translation>登录状态未能保存；会再次尝试</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="85" />
        <source>log in again to receive and send messages</source>
        <translation>请重新登录以收发消息</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="88" />
        <source>the platform asks for a verification: log in again</source>
        <translation>平台要求验证：请重新登录</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="75" />
        <location filename="../../app/ui/reasons.py" line="91" />
        <source>the platform blocked this account</source>
        <translation>平台已封禁此账号</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="78" />
        <location filename="../../app/ui/reasons.py" line="94" />
        <source>monitoring failed; it retries by itself</source>
        <translation>监控出错，将自动重试</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="102" />
        <source>Try again, or use “Show browser” to finish the login in a window.</source>
        <translation>请重试，或点击“显示浏览器”在窗口中完成登录。</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="104" />
        <source>Nobody scanned the code in time. Try again when the phone is at hand.</source>
        <translation>未及时扫码。请在手机在手边时重试。</translation>
    </message>
    <message>
        <location filename="../../app/ui/reasons.py" line="106" />
        <source>Try again for a new QR code.</source>
        <translation>重试以获取新的二维码。</translation>
    </message>
</context>
<context>
    <name>ReplyBox</name>
    <message>
        <location filename="../../app/ui/components/reply_box.py" line="157" />
        <source>Stop replying to this comment (Esc)</source>
        <translation>不再回复这条评论（Esc）</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/reply_box.py" line="158" />
        <source>Write a reply… (Enter sends, Shift+Enter new line)</source>
        <translation>输入回复…（Enter 发送，Shift+Enter 换行）</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/reply_box.py" line="159" />
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/reply_box.py" line="151" />
        <source>The reply is too long ({0} characters; at most {1}).</source>
        <extracomment>(text, target comment id or None): the operator pressed Enter or Send the reply target was dropped (Esc, the ✕ button, the reply was sent) the operator pressed "Log in again" on the account banner</extracomment>
        <translation>回复太长（{0} 个字符，最多 {1} 个）。</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/reply_box.py" line="160" />
        <source>Log in again</source>
        <translation>重新登录</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/reply_box.py" line="176" />
        <source>This account: {state}. Replies cannot be sent until it is logged in again.</source>
        <translation>此账号{state}。重新登录之前，回复无法发出。</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/reply_box.py" line="188" />
        <source>Replying to {0}: {1}</source>
        <translation>回复 {0}：{1}</translation>
    </message>
</context>
<context>
    <name>ReplyStatus</name>
    <message>
        <location filename="../../app/ui/views/bubble_delegate.py" line="68" />
        <source>Queued</source>
        <translation>排队中</translation>
    </message>
    <message>
        <location filename="../../app/ui/views/bubble_delegate.py" line="69" />
        <source>Sending…</source>
        <translation>发送中…</translation>
    </message>
    <message>
        <location filename="../../app/ui/views/bubble_delegate.py" line="70" />
        <source>Sent</source>
        <translation>已发送</translation>
    </message>
    <message>
        <location filename="../../app/ui/views/bubble_delegate.py" line="71" />
        <source>Confirmed</source>
        <translation>已确认</translation>
    </message>
    <message>
        <location filename="../../app/ui/views/bubble_delegate.py" line="72" />
        <source>Failed</source>
        <translation>失败</translation>
    </message>
    <message>
        <location filename="../../app/ui/views/bubble_delegate.py" line="73" />
        <source>Blocked</source>
        <translation>已被限制</translation>
    </message>
    <message>
        <location filename="../../app/ui/views/bubble_delegate.py" line="74" />
        <source>Cancelled</source>
        <translation>已取消</translation>
    </message>
    <message>
        <location filename="../../app/ui/views/bubble_delegate.py" line="75" />
        <source>Uncertain: check and confirm</source>
        <translation>不确定：请到平台核实并确认</translation>
    </message>
    <message>
        <location filename="../../app/ui/views/bubble_delegate.py" line="86" />
        <source>{status}: {reason}</source>
        <translation>{status}：{reason}</translation>
    </message>
</context>
<context>
    <name>SearchDialog</name>
    <message>
        <location filename="../../app/ui/components/search.py" line="113" />
        <source>Search messages</source>
        <extracomment>SearchHit: the operator chose this hit</extracomment>
        <translation>搜索消息</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/search.py" line="117" />
        <source>Search all comments and direct messages…</source>
        <translation>搜索全部评论和私信…</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/search.py" line="127" />
        <source>Load more</source>
        <translation>加载更多</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/search.py" line="173" />
        <source>Searching…</source>
        <translation>正在搜索…</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/search.py" line="203" />
        <source>Nothing found.</source>
        <translation>没有找到结果。</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/search.py" line="205" />
        <source>{0} shown, more are older</source>
        <translation>已显示 {0} 条，更早的还有</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/search.py" line="207" />
        <source>{0} found</source>
        <translation>找到 {0} 条</translation>
    </message>
</context>
<context>
    <name>ServerSection</name>
    <message>
        <location filename="../../app/ui/dialogs/server_section.py" line="112" />
        <location filename="../../app/ui/dialogs/server_section.py" line="163" />
        <source>Hide</source>
        <translation>隐藏</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/server_section.py" line="112" />
        <location filename="../../app/ui/dialogs/server_section.py" line="163" />
        <source>Show</source>
        <translation>显示</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/server_section.py" line="117" />
        <source>The token is set in the settings file or on the command line (server.token, --token); change it there.</source>
        <translation>令牌写在设置文件或命令行中（server.token、--token），请在那里修改。</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/server_section.py" line="121" />
        <location filename="../../app/ui/dialogs/server_section.py" line="124" />
        <location filename="../../app/ui/dialogs/server_section.py" line="165" />
        <source>New token</source>
        <translation>新令牌</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/server_section.py" line="122" />
        <source>IM clients and workers using the current token are disconnected and must be given the new one.</source>
        <translation>使用当前令牌的 IM 客户端和工作节点将被断开，需要改用新令牌。</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/server_section.py" line="146" />
        <source>Running at {url} · {clients} IM clients, {workers} workers</source>
        <translation>运行中：{url} · {clients} 个 IM 客户端，{workers} 个工作节点</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/server_section.py" line="149" />
        <source>Not running: {error}</source>
        <translation>未运行：{error}</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/server_section.py" line="151" />
        <source>Not running</source>
        <translation>未运行</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/server_section.py" line="157" />
        <source>Server</source>
        <translation>服务器</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/server_section.py" line="158" />
        <source>Let IM clients and workers on other computers connect to this console</source>
        <translation>允许其他电脑上的 IM 客户端和工作节点连接到本控制台</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/server_section.py" line="159" />
        <source>Address</source>
        <translation>地址</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/server_section.py" line="159" />
        <source>Port</source>
        <translation>端口</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/server_section.py" line="159" />
        <source>Token</source>
        <translation>令牌</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/server_section.py" line="160" />
        <source>For IM clients</source>
        <translation>给 IM 客户端</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/server_section.py" line="161" />
        <source>127.0.0.1: this computer only; 0.0.0.0: every network interface</source>
        <translation>127.0.0.1：仅本机；0.0.0.0：所有网络接口</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/server_section.py" line="162" />
        <source>any free port</source>
        <translation>任意空闲端口</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/server_section.py" line="164" />
        <location filename="../../app/ui/dialogs/server_section.py" line="166" />
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/server_section.py" line="167" />
        <source>Give IM clients this address (with the token); workers start with hiscrm worker --master ADDRESS --token TOKEN. Saved changes restart the server.</source>
        <translation>把这个地址（含令牌）交给 IM 客户端；工作节点用 hiscrm worker --master 地址 --token 令牌 启动。保存的更改会重启服务器。</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="169" />
        <source>The database URL is not valid. Use sqlite:///path/to/file.db or postgresql+psycopg://user:password@host/database, or leave it empty for the built-in database.</source>
        <extracomment>Settings: emitted after a successful save (the window re-reads what it shows).</extracomment>
        <translation>数据库 URL 无效。请使用 sqlite:///path/to/file.db 或 postgresql+psycopg://用户名:密码@主机/数据库，或留空以使用内置数据库。</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="175" />
        <source>The longest poll interval must not be shorter than the shortest.</source>
        <translation>最长轮询间隔不能短于最短轮询间隔。</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="180" />
        <source>Could not write {path}: {error}</source>
        <translation>无法写入 {path}：{error}</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="191" />
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="192" />
        <source>Storage</source>
        <translation>存储</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="193" />
        <source>Monitoring</source>
        <translation>监控</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="194" />
        <source>Appearance and notifications</source>
        <translation>外观与通知</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="195" />
        <source>Data folder</source>
        <translation>数据文件夹</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="195" />
        <source>Database URL</source>
        <translation>数据库 URL</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="196" />
        <source>Shortest poll interval</source>
        <translation>最短轮询间隔</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="196" />
        <source>Longest poll interval</source>
        <translation>最长轮询间隔</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="197" />
        <source>Open pages at most</source>
        <translation>最多同时打开页面</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="198" />
        <source>Language</source>
        <translation>语言</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="198" />
        <source>Theme</source>
        <translation>主题</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="199" />
        <source>Empty: the built-in SQLite database in the data folder</source>
        <translation>留空：使用数据文件夹中的内置 SQLite 数据库</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="200" />
        <source>A changed database URL takes effect when the console starts again.</source>
        <translation>修改数据库 URL 后，需重新启动控制台才会生效。</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="201" />
        <source>There is no system keyring: saved login sessions are protected by file permissions only (anyone who can read your files can use them).</source>
        <translation>没有可用的系统密钥环：已保存的登录会话仅受文件权限保护（能读取你的文件的人都能使用它们）。</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="204" />
        <source> s</source>
        <translation> 秒</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="205" />
        <source>How many accounts keep a live browser page at the same time; the others hibernate until their turn.</source>
        <translation>同时保持浏览器页面打开的账号数量；其余账号休眠，轮到时再唤醒。</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="207" />
        <location filename="../../app/ui/dialogs/settings.py" line="208" />
        <source>Same as the system</source>
        <translation>跟随系统</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="208" />
        <source>Light</source>
        <translation>浅色</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="208" />
        <source>Dark</source>
        <translation>深色</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="210" />
        <source>Show desktop notifications for new messages</source>
        <translation>有新消息时显示桌面通知</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="211" />
        <source>Do not disturb (no notifications, counts still update)</source>
        <translation>免打扰（不弹通知，未读数照常更新）</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="212" />
        <source>Save</source>
        <translation>保存</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/settings.py" line="213" />
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
</context>
<context>
    <name>TopicDelegate</name>
    <message>
        <location filename="../../app/ui/views/topic_delegate.py" line="17" />
        <source>DM</source>
        <translation>私信</translation>
    </message>
    <message>
        <location filename="../../app/ui/views/topic_delegate.py" line="18" />
        <source>Comments</source>
        <translation>评论</translation>
    </message>
    <message>
        <location filename="../../app/ui/views/topic_delegate.py" line="23" />
        <source>✗ %n not sent</source>
        <translation>✗ %n 条未发出</translation>
    </message>
</context>
<context>
    <name>TopicsPane</name>
    <message>
        <location filename="../../app/ui/components/topics_pane.py" line="91" />
        <source>Open</source>
        <extracomment>Topic: the operator selected a topic Topic: a listed topic's title or counters changed (the chat pane's header follows)</extracomment>
        <translation>打开</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/topics_pane.py" line="93" />
        <source>Mark read</source>
        <translation>标为已读</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/topics_pane.py" line="95" />
        <source>Mark unread</source>
        <translation>标为未读</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/topics_pane.py" line="98" />
        <source>Copy link</source>
        <translation>复制链接</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/topics_pane.py" line="120" />
        <source>All</source>
        <translation>全部</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/topics_pane.py" line="120" />
        <source>Comments</source>
        <translation>评论</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/topics_pane.py" line="121" />
        <source>Direct messages</source>
        <translation>私信</translation>
    </message>
    <message>
        <location filename="../../app/ui/components/topics_pane.py" line="121" />
        <source>Unread</source>
        <translation>未读</translation>
    </message>
</context>
<context>
    <name>Tray</name>
    <message>
        <location filename="../../app/ui/tray.py" line="189" />
        <location filename="../../app/ui/tray.py" line="195" />
        <source>New messages</source>
        <extracomment>(title, body): a notification was shown (or would have been, where there is no tray). int: the unread total changed. The operator chose Quit in the tray menu (the window connects its shutdown to it). account id: the operator chose to finish a platform's check (a notification's button, or a click on the tray's balloon saying so); the window opens a visible login.</extracomment>
        <translation>新消息</translation>
    </message>
    <message numerus="yes">
        <location filename="../../app/ui/tray.py" line="193" />
        <source>%n new message(s)</source>
        <translation>
            <numerusform>%n 条新消息</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <location filename="../../app/ui/tray.py" line="196" />
        <source>%n new message(s) on {accounts} accounts</source>
        <translation>
            <numerusform>{accounts} 个账号共有 %n 条新消息</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../../app/ui/tray.py" line="203" />
        <source>Open a browser to verify</source>
        <translation>打开浏览器完成验证</translation>
    </message>
    <message numerus="yes">
        <location filename="../../app/ui/tray.py" line="227" />
        <source>HisCRM Console: %n unread</source>
        <translation>
            <numerusform>HisCRM 控制台：%n 条未读</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../../app/ui/tray.py" line="229" />
        <source>HisCRM Console: all read</source>
        <translation>HisCRM 控制台：全部已读</translation>
    </message>
    <message>
        <location filename="../../app/ui/tray.py" line="231" />
        <source>Show window</source>
        <translation>显示窗口</translation>
    </message>
    <message>
        <location filename="../../app/ui/tray.py" line="231" />
        <source>Hide window</source>
        <translation>隐藏窗口</translation>
    </message>
    <message>
        <location filename="../../app/ui/tray.py" line="232" />
        <source>Do not disturb</source>
        <translation>免打扰</translation>
    </message>
    <message>
        <location filename="../../app/ui/tray.py" line="236" />
        <source>Quit</source>
        <translation>退出</translation>
    </message>
</context>
<context>
    <name>UndoBanner</name>
    <message>
        <location filename="../../app/ui/components/undo_banner.py" line="58" />
        <source>Undo</source>
        <translation>撤销</translation>
    </message>
</context>
<context>
    <name>WorkerState</name>
    <message>
        <location filename="../../app/ui/dialogs/labels.py" line="27" />
        <source>Online</source>
        <translation>在线</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/labels.py" line="28" />
        <source>Offline</source>
        <translation>离线</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/labels.py" line="29" />
        <source>Switched off</source>
        <translation>已关闭</translation>
    </message>
</context>
<context>
    <name>WorkersDialog</name>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="103" />
        <source>{mb:.0f} MB</source>
        <translation>{mb:.0f} MB</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="104" />
        <source> (at most {max})</source>
        <translation>（最多 {max} 个）</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="125" />
        <source>Browsers are switched off for this run</source>
        <translation>本次运行未启用浏览器</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="127" />
        <source>Running ({version}), started {count} time(s)</source>
        <translation>运行中（{version}），已启动 {count} 次</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="130" />
        <source>Not running (starts when an account needs it)</source>
        <translation>未运行（有账号需要时自动启动）</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="133" />
        <source>{count} (browser pid {pids})</source>
        <translation>{count} 个（浏览器进程号 {pids}）</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="138" />
        <source>{pss:.0f} MB (PSS), {rss:.0f} MB resident</source>
        <translation>{pss:.0f} MB（PSS），常驻 {rss:.0f} MB</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="141" />
        <source>{rss:.0f} MB resident</source>
        <translation>常驻 {rss:.0f} MB</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="142" />
        <source>{open} of at most {max}</source>
        <translation>{open} / 最多 {max}</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="151" />
        <source>in {s:.0f} s</source>
        <translation>{s:.0f} 秒后</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="186" />
        <source>Workers</source>
        <translation>工作进程</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="187" />
        <source>Browser</source>
        <translation>浏览器</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="187" />
        <source>Browser processes</source>
        <translation>浏览器进程</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="187" />
        <location filename="../../app/ui/dialogs/workers.py" line="196" />
        <source>Memory</source>
        <translation>内存</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="188" />
        <source>Open pages</source>
        <translation>打开的页面</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="188" />
        <location filename="../../app/ui/dialogs/workers.py" line="196" />
        <source>Accounts</source>
        <translation>账号</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="190" />
        <source>Account</source>
        <translation>账号</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="190" />
        <location filename="../../app/ui/dialogs/workers.py" line="196" />
        <source>State</source>
        <translation>状态</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="190" />
        <source>Failures</source>
        <translation>失败次数</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="190" />
        <source>Restarts</source>
        <translation>重启次数</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="191" />
        <source>Next poll</source>
        <translation>下次轮询</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="191" />
        <source>Last error</source>
        <translation>最近错误</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="193" />
        <source>Remote workers</source>
        <translation>远程工作节点</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="194" />
        <source>No remote worker has connected to this console's server.</source>
        <translation>还没有远程工作节点连接到本控制台的服务器。</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="196" />
        <source>Worker</source>
        <translation>工作节点</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="196" />
        <source>Host</source>
        <translation>主机</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="197" />
        <source>Last heartbeat</source>
        <translation>最近心跳</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="199" />
        <source>Restart account</source>
        <translation>重启账号</translation>
    </message>
    <message>
        <location filename="../../app/ui/dialogs/workers.py" line="200" />
        <source>Close</source>
        <translation>关闭</translation>
    </message>
</context>
</TS>